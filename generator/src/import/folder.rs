//! Writing an imported model folder atomically: `generator.safetensors` and a MODEL.md card naming
//! the source file, its size and sha256, its format and the network taken.

use super::{Flavour, ImportError, Imported};
use crate::model::StorageType;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The facts about the source file that the card records.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    /// The file name (without its folder).
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
}

impl SourceInfo {
    /// Reads the file once to hash it.
    pub fn of(path: &Path) -> Result<SourceInfo, ImportError> {
        let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
            path: path.into(),
            source,
        })?;
        Ok(SourceInfo::from_bytes(path, &bytes))
    }

    /// From bytes already read.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> SourceInfo {
        let digest = Sha256::digest(bytes);
        SourceInfo {
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size: bytes.len() as u64,
            sha256: digest.iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            }),
        }
    }
}

/// Writes the model folder at `out`: into a hidden sibling first, renamed into place at the end, so
/// a failure leaves nothing at `out`. `out` must not exist or be an empty folder.
pub fn write_model_folder(
    imported: &Imported,
    source: &SourceInfo,
    out: &Path,
    storage: StorageType,
) -> Result<(), ImportError> {
    let write = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Write { path, source }
    };
    if out.exists() {
        let empty = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none());
        if !empty {
            return Err(ImportError::OutExists { path: out.into() });
        }
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(write(parent))?;
    let tmp: PathBuf = parent.join(format!(".{name}.import-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(write(&tmp))?;
    }
    let result = (|| {
        let mut model = imported.model.clone();
        model.set_name(&name, &format!("imported from {}", source.file_name));
        model.save(&tmp, storage)?;
        let card = model_card(imported, source, &name, storage);
        std::fs::write(tmp.join("MODEL.md"), card).map_err(write(&tmp.join("MODEL.md")))?;
        if out.exists() {
            std::fs::remove_dir(out).map_err(write(out))?;
        }
        std::fs::rename(&tmp, out).map_err(write(out))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The MODEL.md text.
pub fn model_card(
    imported: &Imported,
    source: &SourceInfo,
    name: &str,
    storage: StorageType,
) -> String {
    let c = imported.model.config();
    let upstream = match imported.flavour {
        Flavour::Ada => "NVlabs stylegan2-ada-pytorch",
        Flavour::Rosinality => "rosinality/stylegan2-pytorch (or a fork with its layout)",
    };
    let channels: Vec<String> = c
        .block_resolutions()
        .iter()
        .map(|&r| format!("{r}: {}", c.channels(r)))
        .collect();
    let mut s = String::new();
    let _ = writeln!(s, "# {name}\n");
    let _ = writeln!(
        s,
        "A StyleGAN2 generator converted by `drape import` from a file written by {upstream}. The \
         weights are the source's: its licence, training data and intended use apply.\n"
    );
    let _ = writeln!(s, "## Source\n\n| | |\n| --- | --- |");
    let _ = writeln!(s, "| file | `{}` |", source.file_name);
    let _ = writeln!(s, "| size | {} bytes |", source.size);
    let _ = writeln!(s, "| sha256 | `{}` |", source.sha256);
    let _ = writeln!(s, "| format | {} |", imported.container.describe());
    let _ = writeln!(s, "| network taken | `{}` |", imported.network);
    let stored = match storage {
        StorageType::F32 => "float32",
        StorageType::F16 => "float16 (rounded from the source)",
    };
    let _ = writeln!(s, "| stored as | {stored} |\n");
    let _ = writeln!(s, "## Network\n\n| | |\n| --- | --- |");
    let _ = writeln!(s, "| resolution | {} |", c.resolution);
    let _ = writeln!(s, "| z_dim / w_dim | {} / {} |", c.z_dim, c.w_dim);
    let _ = writeln!(s, "| num_ws | {} |", c.num_ws);
    let _ = writeln!(
        s,
        "| mapping layers | {} (lr multiplier {}) |",
        c.mapping_layers, c.mapping_lr_multiplier
    );
    let _ = writeln!(s, "| channels | {} |", channels.join(", "));
    let clamp = c.conv_clamp.map_or("none".to_string(), |v| v.to_string());
    let _ = writeln!(s, "| conv_clamp | {clamp} |");
    let _ = writeln!(s, "| architecture | skip |\n");
    let _ = writeln!(
        s,
        "## Truncation\n\n`mapping.w_avg` comes from {}. Standard truncation moves w toward it; \
         ClothingGAN truncates toward 0 instead (docs/stylegan2.md §7.3).\n",
        imported.w_avg_source
    );
    if !imported.notes.is_empty() {
        let _ = writeln!(s, "## Notes\n");
        for note in &imported.notes {
            let _ = writeln!(s, "- {note}");
        }
    }
    s
}
