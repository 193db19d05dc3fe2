//! The drape graph engine: graph files, the node plugin interface, validation, planning and cached execution.
