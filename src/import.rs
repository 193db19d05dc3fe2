//! `drape import`: convert a stylegan2-ada network pickle or a rosinality checkpoint into a drape
//! model folder (generator/src/import/ does the reading and renaming).

use std::path::Path;
use std::process::ExitCode;

use drape_generator::import::{SourceInfo, import_bytes, write_model_folder};
use drape_generator::model::StorageType;

/// Reads `file`, converts the chosen network and writes the folder `out`.
pub fn import(file: &Path, out: &Path, network: &str, f16: bool) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    // rosinality files hold only g_ema; `--network` picks between G and G_ema of ADA pickles.
    let choice = (network != "G_ema").then_some(network);
    let imported = import_bytes(file, &bytes, choice)?;
    let source = SourceInfo::from_bytes(file, &bytes);
    let storage = if f16 {
        StorageType::F16
    } else {
        StorageType::F32
    };
    write_model_folder(&imported, &source, out, storage)?;
    let c = imported.model.config();
    println!(
        "imported `{}` from {} ({}): {} px, z {} / w {}, {} mapping layers, {} ws → {}",
        imported.network,
        file.display(),
        imported.container.describe(),
        c.resolution,
        c.z_dim,
        c.w_dim,
        c.mapping_layers,
        c.num_ws,
        out.display()
    );
    println!("w_avg: {}", imported.w_avg_source);
    for note in &imported.notes {
        println!("note: {note}");
    }
    Ok(ExitCode::SUCCESS)
}
