//! drape's built-in nodes and the registry that lists them.
