//! The `drape` command line: run, check and watch design graphs, re-create saved designs, find attribute
//! directions, list nodes, benchmark the generator.

mod backend_args;
mod batch;
mod bench;
mod catalogue;
mod directions;
mod import;
mod progress;
mod rerun;
mod run;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use backend_args::{BackendArgs, FolderArgs};
use clap::{Parser, Subcommand};
use drape_engine::Override;

/// drape: AI clothing designs from node graphs, rendered on the GPU.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Refuse graphs whose values would need more memory than this (e.g. 512MiB, 16GiB); checked
    /// before anything runs.
    #[arg(long, global = true, value_name = "SIZE", env = drape_engine::budget::BUDGET_ENV,
          value_parser = drape_engine::budget::parse_budget, default_value = drape_engine::budget::DEFAULT_BUDGET_TEXT)]
    memory_budget: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run a graph: render and write its outputs. Given a PNG drape saved, re-create that design.
    ///
    /// A batch of more than 256 designs streams through the nodes that work design by design, 64 at a
    /// time, so memory stays flat; it records each finished design in a manifest beside the outputs
    /// (GRAPH.manifest.jsonl) and, run again after a crash, continues where it stopped. --shard
    /// renders one share of the designs, for array jobs (Slurm arrays and Kubernetes Indexed Jobs are
    /// read from the environment); see docs/batches.md.
    Run {
        /// The graph file (.ron), or a design PNG written by Save to re-create from its recipe.
        graph: PathBuf,
        /// For a design PNG: where to write the re-created design (default: <stem>.rerun.png beside it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// For a design PNG: replace the output file if it exists. For a batch: start over, ignoring
        /// the designs its manifest says are finished.
        #[arg(long)]
        force: bool,
        /// Render share INDEX of COUNT equal shares of the designs, e.g. 0/4 (default: from
        /// SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with --shards).
        #[arg(long, value_name = "INDEX/COUNT", value_parser = batch::parse_shard)]
        shard: Option<(usize, usize)>,
        /// The number of shares when the index comes from the environment (a Kubernetes Indexed
        /// Job's completions).
        #[arg(long, value_name = "COUNT", conflicts_with = "shard")]
        shards: Option<usize>,
        /// The batch manifest (default: GRAPH[.shard-I-of-N].manifest.jsonl beside the outputs).
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// Override a parameter: NODE.PARAM=VALUE in RON syntax, e.g. mixed.style=0.8 or image.noise=none.
        #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
        overrides: Vec<Override>,
        /// Run only these nodes (and what they need) instead of every output.
        #[arg(long, value_name = "NODE")]
        only: Vec<String>,
        /// Print the time each node took.
        #[arg(long)]
        timings: bool,
        #[command(flatten)]
        folders: FolderArgs,
        #[command(flatten)]
        backend: BackendArgs,
        /// Say more: the backend in use and every node's status.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run a graph again on every save, with a live preview page of its outputs and controls that
    /// edit the graph (also `drape studio`).
    #[command(alias = "studio")]
    Watch {
        /// The graph file (.ron).
        graph: PathBuf,
        /// Override a parameter for every run (see `run`).
        #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
        overrides: Vec<Override>,
        /// The preview page's port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 7860)]
        port: u16,
        #[command(flatten)]
        folders: FolderArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Validate graphs without running them; lists every problem and exits 1 if there is any.
    Check {
        /// Graph files.
        #[arg(required = true)]
        graphs: Vec<PathBuf>,
        /// Overrides to check along with the graphs (see `run`).
        #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
        overrides: Vec<Override>,
    },
    /// Check the manifests of a batch's shards for gaps and duplicates; merge them with --out.
    Manifest {
        /// The shards' manifest files.
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// Write the merged manifest here (only when nothing is missing or duplicated).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show how a saved design was made (graph, output node, item, model, overrides).
    Recipe {
        /// A design PNG written by Save.
        design: PathBuf,
        /// Also write the embedded graph to this new file.
        #[arg(long, value_name = "FILE")]
        graph: Option<PathBuf>,
    },
    /// The node catalogue: every node, or one in detail.
    Nodes {
        /// A node name (kebab-case or as written in graphs).
        name: Option<String>,
        /// Print the catalogue as Markdown (docs/nodes.md is made with this).
        #[arg(long)]
        markdown: bool,
    },
    /// List the GPU adapters drape can use (for --adapter; --backend cpu needs none).
    Adapters,
    /// Attribute directions: discover, gallery, import, list.
    Directions {
        #[command(subcommand)]
        command: directions::Command,
    },
    /// Import a StyleGAN2 generator from a stylegan2-ada-pytorch network pickle or a rosinality
    /// checkpoint (.pt, zip or legacy torch format) into a drape model folder.
    ///
    /// The file is read without Python and nothing in it is executed: only torch tensors,
    /// OrderedDicts and stylegan2-ada persistence objects are understood, anything else is refused.
    /// The folder gets generator.safetensors and a MODEL.md card naming the source file and its
    /// sha256; it is written whole or not at all.
    Import {
        /// The checkpoint (.pkl or .pt).
        file: PathBuf,
        /// The model folder to create (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Which network of a stylegan2-ada pickle to take.
        #[arg(long, value_parser = ["G", "G_ema"], default_value = "G_ema")]
        network: String,
        /// Store the weights as float16 (half the size; computed in float32 as always).
        #[arg(long)]
        f16: bool,
    },
    /// Measure generator speed: images/s and GFLOP/s per batch size.
    Bench {
        /// A model folder to time (default: models/clothing when it exists).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Batch sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        batch: Vec<usize>,
        /// Also time the 256 px config-F-sized network with random weights (slow without a GPU).
        #[arg(long)]
        config_f: bool,
        /// Keep repeating each measurement for at least this many seconds (0.01 to 3600).
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        seconds: f64,
        /// Also time every stage of one synthesis run at the largest batch (where the time goes).
        #[arg(long)]
        profile: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

/// A benchmark duration: a finite number of seconds from 0.01 to one hour.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.01..=3600.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} is not between 0.01 and 3600 seconds")),
        Err(e) => Err(e.to_string()),
    }
}

/// The x86-64-v3 features this build was compiled to use (`.cargo/config.toml`) that the CPU lacks,
/// checked before anything else runs, so that an older CPU gets a message instead of an illegal
/// instruction.
fn missing_cpu_features() -> Option<&'static str> {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return Some("AVX2");
        }
        if !std::arch::is_x86_feature_detected!("fma") {
            return Some("FMA");
        }
    }
    None
}

fn main() -> ExitCode {
    if let Some(missing) = missing_cpu_features() {
        eprintln!(
            "error: this drape was built for x86-64-v3 CPUs, and this CPU lacks {missing}; build it for yours with \
             RUSTFLAGS=\"-C target-cpu=x86-64\" cargo install --path ."
        );
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    drape_engine::budget::set_budget(cli.memory_budget);
    let result = match cli.command {
        Command::Run {
            graph,
            out,
            force,
            overrides,
            only,
            timings,
            folders,
            backend,
            verbose,
            shard,
            shards,
            manifest,
        } => {
            let options = run::Options {
                timings,
                backend,
                model: folders.model,
                out_dir: folders.out_dir,
                verbose,
                force,
            };
            if !rerun::is_png(&graph) {
                let batch = batch::shard(shard, shards, |name| std::env::var(name).ok())
                    .map(|shard| run::Batch { shard, manifest });
                match (out, batch) {
                    (Some(_), _) => Err(anyhow::anyhow!(
                        "--out is for re-creating a design PNG; a graph's outputs are named in the graph"
                    )),
                    (None, Ok(batch)) => run::run(&graph, &overrides, &only, &batch, &options),
                    (None, Err(e)) => Err(e),
                }
            } else if shard.is_some() || shards.is_some() || manifest.is_some() {
                Err(anyhow::anyhow!(
                    "--shard, --shards and --manifest are for a graph's batch; a design PNG re-creates one design"
                ))
            } else if !only.is_empty() {
                Err(anyhow::anyhow!(
                    "--only does not apply to a design PNG; it re-creates exactly that design"
                ))
            } else {
                rerun::rerun(&graph, out.as_deref(), force, &overrides, &options)
            }
        }
        Command::Recipe { design, graph } => rerun::show(&design, graph.as_deref()),
        Command::Manifest { manifests, out } => batch::check(&manifests, out.as_deref()),
        Command::Watch {
            graph,
            overrides,
            port,
            folders,
            backend,
        } => watch::watch(
            &graph,
            &overrides,
            &watch::Options {
                port,
                backend,
                model: folders.model,
                out_dir: folders.out_dir,
            },
        ),
        Command::Check { graphs, overrides } => run::check(&graphs, &overrides),
        Command::Nodes { name, markdown } => catalogue::show(name.as_deref(), markdown),
        Command::Adapters => bench::adapters(),
        Command::Directions { command } => directions::run(command),
        Command::Import {
            file,
            out,
            network,
            f16,
        } => import::import(&file, &out, &network, f16),
        Command::Bench {
            model,
            batch,
            config_f,
            seconds,
            profile,
            backend,
        } => bench::bench(model, batch, config_f, seconds, profile, &backend),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
