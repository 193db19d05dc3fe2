//! `drape directions`: discover a model's principal directions in W, render a gallery of them to name
//! by eye, import GANSpace's precomputed ones, and list what a model has.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use drape_directions::{
    COMPONENTS_FILE, Components, DirectionSet, DirectionsError, DiscoverOptions, NAMED_FILE,
    STDEV_SAMPLES, Source, format_amount,
};
use drape_engine::{Engine, Status, parse_graph};
use drape_generator::{Device, Model};

use crate::backend_args::BackendArgs;
use indicatif::{ProgressBar, ProgressStyle};

/// The `drape directions` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Compute the model's principal directions of W (exact PCA) into MODEL/components.safetensors.
    Discover {
        /// The model folder.
        #[arg(long)]
        model: PathBuf,
        /// Number of w samples (GANSpace uses 300000).
        #[arg(long, default_value_t = 100_000)]
        samples: usize,
        /// Number of components to keep.
        #[arg(long, default_value_t = 20)]
        components: usize,
        /// Seed of the z stream (numpy RandomState).
        #[arg(long, default_value_t = 1)]
        seed: u32,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Render every component as strips from −σ to +σ on a few seeds, as one contact sheet.
    Gallery {
        /// The model folder.
        #[arg(long)]
        model: PathBuf,
        /// Components to show, "start..end" (end excluded).
        #[arg(long, default_value = "0..10")]
        components: String,
        /// Seeds, comma-separated: one row per component and seed.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u32>,
        /// Images per strip.
        #[arg(long, default_value_t = 7)]
        steps: usize,
        /// The strips run from −SIGMA to +SIGMA standard deviations.
        #[arg(long, default_value_t = 3.0)]
        sigma: f64,
        /// Truncation psi of the designs before they are edited.
        #[arg(long, default_value_t = 0.7)]
        truncation: f64,
        /// The PNG to write.
        #[arg(long, default_value = "gallery.png")]
        out: PathBuf,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Import GANSpace's directions (.npz: lat_comp, lat_mean, lat_stdev, var_ratio) into the model.
    Import {
        /// The GANSpace .npz file.
        file: PathBuf,
        /// The model folder.
        #[arg(long)]
        model: PathBuf,
    },
    /// List the model's named directions and components.
    List {
        /// The model folder.
        #[arg(long)]
        model: PathBuf,
    },
}

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let result = match command {
        Command::Discover {
            model,
            samples,
            components,
            seed,
            backend,
        } => discover(&model, samples, components, seed, &backend),
        Command::Gallery {
            model,
            components,
            seeds,
            steps,
            sigma,
            truncation,
            out,
            backend,
        } => {
            let range = parse_range(&components)?;
            gallery(
                &model, range, &seeds, steps, sigma, truncation, &out, &backend,
            )
        }
        Command::Import { file, model } => import(&file, &model),
        Command::List { model } => list(&model),
    };
    // Problems in directions.ron are printed as located diagnostics, like graph errors.
    match result {
        Err(e) => match e.downcast_ref::<DirectionsError>() {
            Some(DirectionsError::Named(diagnostics)) => {
                eprintln!("{}", diagnostics.for_stderr());
                Ok(ExitCode::FAILURE)
            }
            _ => Err(e),
        },
        ok => ok,
    }
}

fn load_model(dir: &Path) -> anyhow::Result<Model> {
    Model::load(dir).with_context(|| format!("cannot use the model folder {}", dir.display()))
}

/// Prints each component's spread and share of the variance, and the total.
fn print_variance(components: &Components) {
    println!(
        "{:>9} {:>9} {:>10} {:>10}",
        "component", "stdev", "variance", "cumulative"
    );
    let mut total = 0.0;
    for (k, (&stdev, &ratio)) in components
        .stdev
        .iter()
        .zip(&components.explained_variance_ratio)
        .enumerate()
    {
        total += ratio;
        println!(
            "{k:>9} {stdev:>9.3} {:>9.2}% {:>9.2}%",
            100.0 * ratio,
            100.0 * total
        );
    }
    println!(
        "{} components explain {:.2}% of W's variance",
        components.len(),
        100.0 * total
    );
}

fn discover(
    model_dir: &Path,
    samples: usize,
    components: usize,
    seed: u32,
    backend: &BackendArgs,
) -> anyhow::Result<ExitCode> {
    let model = Arc::new(load_model(model_dir)?);
    let choice = backend.choice()?;
    let generator = Device::open(choice.kind, &choice.adapter, choice.cpu)?.backend(model)?;
    let bar = ProgressBar::new((samples + STDEV_SAMPLES) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} w samples {elapsed} (eta {eta})")
            .expect("valid template"),
    );
    let options = DiscoverOptions {
        samples,
        components,
        seed,
        chunk: 4096,
    };
    let found = drape_directions::discover(&*generator, &options, &mut |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let found = found.map_err(|e| anyhow::anyhow!("{e}{}", help_suffix(e.help())))?;
    print_variance(&found);
    let path = model_dir.join(COMPONENTS_FILE);
    found.save(&path)?;
    println!("wrote {}", path.display());
    if model_dir.join(NAMED_FILE).is_file() {
        println!(
            "note: {} names components by index; re-check it against a new gallery",
            model_dir.join(NAMED_FILE).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn help_suffix(help: Option<&str>) -> String {
    help.map(|h| format!(" (help: {h})")).unwrap_or_default()
}

/// `start..end` (end excluded) as a range.
fn parse_range(text: &str) -> anyhow::Result<std::ops::Range<usize>> {
    let bad = || format!("`{text}` is not a range like 0..10 (end excluded)");
    let (a, b) = text.split_once("..").with_context(bad)?;
    let (start, end): (usize, usize) = (
        a.trim().parse().ok().with_context(bad)?,
        b.trim().parse().ok().with_context(bad)?,
    );
    if end <= start {
        bail!("the range `{text}` is empty");
    }
    Ok(start..end)
}

/// A RON string literal for `path`.
fn ron_string(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

#[allow(clippy::too_many_arguments)]
fn gallery(
    model_dir: &Path,
    range: std::ops::Range<usize>,
    seeds: &[u32],
    steps: usize,
    sigma: f64,
    truncation: f64,
    out: &Path,
    backend: &BackendArgs,
) -> anyhow::Result<ExitCode> {
    let model = load_model(model_dir)?;
    let config = model.config();
    let set = DirectionSet::load(model_dir, config.w_dim, config.num_ws)?;
    let Some(components) = set.components.as_ref() else {
        bail!(
            "{} has no {COMPONENTS_FILE}; run `drape directions discover --model {}` first",
            model_dir.display(),
            model_dir.display()
        );
    };
    if range.end > components.len() {
        bail!(
            "components {}..{} asked for, but the model has components 0..{}",
            range.start,
            range.end,
            components.len()
        );
    }
    if seeds.is_empty() || steps < 2 {
        bail!("a gallery needs at least one seed and two steps");
    }
    // Amounts to two decimals, so that the column headers read `-0.67σ`, not `-0.6666666666666667σ`.
    let amounts: Vec<f64> = (0..steps)
        .map(|i| -sigma + 2.0 * sigma * i as f64 / (steps - 1) as f64)
        .map(|a| (a * 100.0).round() / 100.0)
        .collect();
    let edits: Vec<String> = range.clone().map(|k| format!("(component: {k})")).collect();
    let rows = gallery_rows(&set, range.clone(), seeds);
    // Cells of at least 128 pixels, where the legend is written in a font that reads well.
    let scale = GALLERY_CELL.div_ceil(config.resolution).max(1);
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let graph_text = format!(
        "// drape directions gallery: components {}..{} of {} as strips from -{sigma}σ to +{sigma}σ.\n\
         Graph(\n    version: 1,\n    model: {},\n    nodes: {{\n\
         \x20       \"designs\": SampleLatent(seeds: {seeds:?}),\n\
         \x20       \"w\": Map(z: \"designs\", truncation: {truncation:?}),\n\
         \x20       \"strips\": ApplyDirection(w: \"w\", edits: [{}], strip: {amounts:?}),\n\
         \x20       \"images\": Synthesize(w: \"strips\"),\n\
         \x20       \"sheet\": Grid(images: \"images\", columns: {steps}, scale: {scale}, labels: true,\n\
         \x20           title: \"components {}..{}, -{sigma}σ to +{sigma}σ\", rows: {rows:?}),\n\
         \x20       \"save\": Save(images: \"sheet\", path: {}),\n    }},\n)\n",
        range.start,
        range.end,
        model_dir.display(),
        ron_string(&absolute(model_dir)),
        edits.join(", "),
        range.start,
        range.end,
        ron_string(&absolute(out)),
    );
    let registry = drape_nodes::registry();
    let graph = parse_graph(Path::new("gallery.ron"), &graph_text, &registry, &[])
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let mut engine = Engine::new();
    drape_nodes::set_backend(engine.resources(), backend.choice()?);
    let bar = ProgressBar::new_spinner();
    bar.set_message("rendering the gallery");
    let report = engine
        .run(&graph, &[], &mut |_| bar.tick())
        .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    for record in &report.records {
        if let Status::Failed(e) = &record.status {
            bail!("{} failed: {e}", record.id);
        }
    }
    println!(
        "columns: {}",
        amounts
            .iter()
            .map(|a| format!("{a:+.1}σ"))
            .collect::<Vec<_>>()
            .join("  ")
    );
    let mut row = 0;
    for k in range {
        for seed in seeds {
            row += 1;
            println!(
                "row {row:>3}: component {k:<3} seed {seed:<6} (σ = {:.3}, {:.2}% of the variance)",
                components.stdev[k],
                100.0 * components.explained_variance_ratio[k]
            );
        }
    }
    for file in report.files() {
        println!("wrote {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The smallest cell a gallery enlarges its designs to, in pixels.
const GALLERY_CELL: usize = 128;

/// The gallery's row headers: for each component (with the names directions.ron gives it) and seed,
/// `c4 long-sleeves, seed 1`.
fn gallery_rows(set: &DirectionSet, range: std::ops::Range<usize>, seeds: &[u32]) -> Vec<String> {
    let mut rows = Vec::new();
    for k in range {
        let names: Vec<&str> = set.named.as_ref().map_or_else(Vec::new, |named| {
            named
                .directions
                .iter()
                .filter(|d| matches!(d.source, Source::Component(c) if c == k))
                .map(|d| d.name.as_str())
                .collect()
        });
        let component = if names.is_empty() {
            format!("c{k}")
        } else {
            format!("c{k} {}", names.join("/"))
        };
        rows.extend(seeds.iter().map(|s| format!("{component}, seed {s}")));
    }
    rows
}

fn import(file: &Path, model_dir: &Path) -> anyhow::Result<ExitCode> {
    let model = load_model(model_dir)?;
    let components = drape_directions::import_npz(file, model.config().w_dim)?;
    print_variance(&components);
    let path = model_dir.join(COMPONENTS_FILE);
    components.save(&path)?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn list(model_dir: &Path) -> anyhow::Result<ExitCode> {
    let model = load_model(model_dir)?;
    let config = model.config();
    let set = DirectionSet::load(model_dir, config.w_dim, config.num_ws)?;
    match &set.components {
        Some(c) => println!(
            "{} components ({}; {} samples), {:.1}% of W's variance",
            c.len(),
            c.info.method,
            c.info.samples.map_or("unknown".into(), |n| n.to_string()),
            100.0 * c.explained_variance_ratio.iter().sum::<f32>()
        ),
        None => println!("no {COMPONENTS_FILE}: run `drape directions discover` or `import`"),
    }
    let Some(named) = &set.named else {
        println!("no {NAMED_FILE}: no named directions");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "{:<18} {:<12} {:<8} {:>8} {:>8}  description",
        "name", "direction", "layers", "amount", "σ"
    );
    for d in &named.directions {
        let (source, stdev) = match &d.source {
            Source::Component(k) => (
                format!("component {k}"),
                set.components
                    .as_ref()
                    .map_or("-".into(), |c| format!("{:.3}", c.stdev[*k])),
            ),
            Source::Vector(_) => ("vector".to_string(), "-".to_string()),
        };
        let layers = d
            .layers
            .map_or_else(|| format!("0..{}", config.num_ws), |l| l.to_string());
        println!(
            "{:<18} {:<12} {:<8} {:>8} {:>8}  {}",
            d.name,
            source,
            layers,
            format_amount(d.amount, d.unit),
            stdev,
            d.description.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}
