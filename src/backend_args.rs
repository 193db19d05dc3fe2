//! Options shared by several commands: where the generator runs (`--backend`, `--adapter`,
//! `--threads`, for run, watch, bench and directions) and the folders a graph uses (`--model`,
//! `--out-dir`, for run and watch).

use std::path::PathBuf;

use drape_generator::{AdapterChoice, BackendKind, CpuOptions};
use drape_nodes::BackendChoice;

/// Where the generator runs.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BackendArgs {
    /// Where the generator runs: auto (a hardware GPU when there is one, else the native CPU
    /// backend), gpu or cpu; also DRAPE_BACKEND.
    #[arg(long, value_name = "auto|gpu|cpu")]
    pub backend: Option<String>,
    /// GPU adapter: an index or part of a name (see `drape adapters`); also DRAPE_ADAPTER. Naming
    /// one runs the GPU path on it, software drivers such as llvmpipe included.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Worker threads of the CPU backend (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl BackendArgs {
    /// The user's choice, flags first, then the environment.
    pub fn choice(&self) -> anyhow::Result<BackendChoice> {
        let kind = match &self.backend {
            Some(text) => BackendKind::parse(text)?,
            None => BackendKind::from_env()?,
        };
        let adapter = self
            .adapter
            .as_deref()
            .map_or_else(AdapterChoice::from_env, AdapterChoice::parse);
        Ok(BackendChoice {
            kind,
            adapter,
            cpu: CpuOptions {
                threads: self.threads.map(usize::from),
                ..CpuOptions::default()
            },
        })
    }
}

/// The folders a run uses in place of the graph's own.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct FolderArgs {
    /// Use this model folder instead of the one the graph (or a design's recipe) names, relative to
    /// the working directory.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Write the graph's relative output paths under DIR instead of the graph's folder.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}
