//! `drape bench` and `drape adapters`: generator speed on the chosen backend, and the GPU adapters
//! there are to choose from.

use std::path::PathBuf;
use std::process::ExitCode;

use drape_generator::GpuContext;
use drape_generator::bench::{self, BenchOptions};

use crate::backend_args::BackendArgs;

/// The model `drape bench` times when none is given.
const DEFAULT_MODEL: &str = "models/clothing";

/// Runs the benchmark and prints each result as it comes, then the summary.
pub fn bench(
    model: Option<PathBuf>,
    batches: Vec<usize>,
    config_f: bool,
    seconds: f64,
    profile: bool,
    backend: &BackendArgs,
) -> anyhow::Result<ExitCode> {
    let model_dir = model.or_else(|| {
        let default = PathBuf::from(DEFAULT_MODEL);
        default
            .join(drape_engine::MODEL_WEIGHTS_FILE)
            .is_file()
            .then_some(default)
    });
    let choice = backend.choice()?;
    let options = BenchOptions {
        model_dir,
        config_f,
        batches,
        backend: choice.kind,
        adapter: choice.adapter,
        cpu: choice.cpu,
        min_seconds: seconds,
        profile,
    };
    let report = bench::run(&options, |result| eprintln!("{result}"))?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// Lists adapters with their index, for `--adapter` and DRAPE_ADAPTER.
pub fn adapters() -> anyhow::Result<ExitCode> {
    let adapters = GpuContext::adapters();
    if adapters.is_empty() {
        anyhow::bail!(
            "no GPU adapter found; install a Vulkan driver (on Debian/Ubuntu without a GPU: `apt-get install mesa-vulkan-drivers`)"
        );
    }
    for (i, info) in adapters.iter().enumerate() {
        println!(
            "{i}: {} ({:?}, {:?})",
            info.name, info.backend, info.device_type
        );
    }
    Ok(ExitCode::SUCCESS)
}
