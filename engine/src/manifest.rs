//! The batch manifest: a JSON-lines file next to a streamed batch's outputs, a header line saying which
//! graph and which designs it is for, then one line per finished design (its seed, label, parameters
//! and every file written for it, with the file's BLAKE3 hash), appended after each chunk. A run that
//! finds a manifest of the same graph and designs continues after its last sound entry.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::value::Design;

/// The manifest format this engine writes and reads.
pub const FORMAT: u32 = 1;

/// Finished entries whose files are hashed again before a run continues (older ones only need to
/// exist): the last chunk a killed run may have been writing.
const REHASHED: usize = crate::stream::CHUNK;

/// What a manifest is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    #[serde(rename = "drape-manifest")]
    pub format: u32,
    /// The graph file, as given.
    pub graph: String,
    /// BLAKE3 of the graph text and the overrides: a changed graph makes different designs.
    pub graph_blake3: String,
    /// Designs in the whole batch.
    pub designs: usize,
    /// The designs this manifest covers (a shard's share, or all).
    pub range: (usize, usize),
    /// `(index, count)` of the shard, when the batch is split.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<(usize, usize)>,
}

/// One file written for a design.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The output node that wrote it.
    pub node: String,
    /// Relative to the manifest's folder when inside it, else absolute.
    pub path: String,
    /// BLAKE3 of its bytes.
    pub blake3: String,
}

/// One finished design.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its position in the whole batch.
    pub design: usize,
    /// The seed it was drawn from, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seed: Option<u32>,
    /// Its label.
    pub label: String,
    /// Parameters recorded on the way.
    pub params: Vec<(String, String)>,
    /// The files written for it.
    pub files: Vec<FileEntry>,
}

impl Entry {
    /// The entry of design `index` (described by `design`) with `files` written by output nodes.
    pub fn new(
        index: usize,
        design: &Design,
        files: &[(String, PathBuf)],
        folder: &Path,
    ) -> std::io::Result<Entry> {
        let files = files
            .iter()
            .map(|(node, path)| {
                Ok(FileEntry {
                    node: node.clone(),
                    path: relative(path, folder),
                    blake3: blake3::hash(&std::fs::read(path)?).to_hex().to_string(),
                })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Entry {
            design: index,
            seed: design.seed,
            label: design.label.clone(),
            params: design.params.clone(),
            files,
        })
    }

    /// True when every file exists (and, with `rehash`, still has its recorded hash).
    fn sound(&self, folder: &Path, rehash: bool) -> bool {
        self.files.iter().all(|f| {
            let path = folder.join(&f.path);
            match rehash {
                true => std::fs::read(&path)
                    .is_ok_and(|bytes| blake3::hash(&bytes).to_hex().as_str() == f.blake3),
                false => path.is_file(),
            }
        })
    }
}

/// `path` relative to `folder` when it lies inside it, else as an absolute path.
pub fn relative(path: &Path, folder: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, folder) = (absolute(path), absolute(folder));
    path.strip_prefix(&folder)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned()
}

/// An open manifest, appended to as chunks finish.
#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    /// Where its relative file paths start.
    pub folder: PathBuf,
}

impl Manifest {
    /// Opens the manifest at `path` for `header`: keeps the sound entries of an earlier run of the same
    /// graph and designs (dropping any torn or unsound tail) and says where to continue; starts anew
    /// when there is none or `force`. An error when it belongs to another graph or share.
    pub fn open(path: &Path, header: &Header, force: bool) -> Result<(Manifest, usize), String> {
        let folder = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let manifest = Manifest {
            path: path.to_path_buf(),
            folder,
        };
        let shown = path.display();
        let kept = match std::fs::File::open(path) {
            Ok(file) if !force => {
                let mut lines = std::io::BufReader::new(file).lines();
                let first = lines.next().and_then(Result::ok).unwrap_or_default();
                let found: Option<Header> = serde_json::from_str(&first).ok();
                if found.as_ref() != Some(header) {
                    return Err(format!(
                        "{shown} is the manifest of another graph, version of the graph or share of \
                         the batch; give --force to start the batch over, or move the manifest away"
                    ));
                }
                let entries: Vec<Entry> = lines
                    .map_while(|line| serde_json::from_str(&line.ok()?).ok())
                    .collect();
                manifest.sound_prefix(entries, header.range.0)
            }
            _ => Vec::new(),
        };
        let next = header.range.0 + kept.len();
        manifest
            .rewrite(header, &kept)
            .map_err(|e| format!("cannot write {shown}: {e}"))?;
        Ok((manifest, next))
    }

    /// The entries from `start` on that are consecutive and sound (the last [`REHASHED`] re-hashed).
    fn sound_prefix(&self, entries: Vec<Entry>, start: usize) -> Vec<Entry> {
        let consecutive = entries
            .iter()
            .enumerate()
            .take_while(|(i, e)| e.design == start + i)
            .count();
        let mut kept: Vec<Entry> = entries.into_iter().take(consecutive).collect();
        let rehash_from = kept.len().saturating_sub(REHASHED);
        let sound = kept
            .iter()
            .enumerate()
            .take_while(|(i, e)| e.sound(&self.folder, *i >= rehash_from))
            .count();
        kept.truncate(sound);
        kept
    }

    fn rewrite(&self, header: &Header, entries: &[Entry]) -> std::io::Result<()> {
        write(&self.path, header, entries)
    }

    /// Appends finished entries and makes them durable before the run goes on.
    pub fn append(&self, entries: &[Entry]) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        let mut text = String::new();
        for entry in entries {
            text += &json(entry);
            text.push('\n');
        }
        file.write_all(text.as_bytes())?;
        file.sync_data()
    }
}

/// Reads a whole manifest: its header and every entry (an error names the file and line).
pub fn read(path: &Path) -> Result<(Header, Vec<Entry>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = text.lines().enumerate();
    let bad = |line: usize, e: serde_json::Error| {
        format!(
            "{}:{}: not a drape manifest line: {e}",
            path.display(),
            line + 1
        )
    };
    let (_, first) = lines
        .next()
        .ok_or_else(|| format!("{} is empty", path.display()))?;
    let header: Header = serde_json::from_str(first).map_err(|e| bad(0, e))?;
    let entries = lines
        .map(|(n, line)| serde_json::from_str(line).map_err(|e| bad(n, e)))
        .collect::<Result<_, _>>()?;
    Ok((header, entries))
}

/// Writes a manifest of `header` and `entries` at `path`, atomically.
pub fn write(path: &Path, header: &Header, entries: &[Entry]) -> std::io::Result<()> {
    crate::atomic::write_atomically(path, |out| {
        writeln!(out, "{}", json(header))?;
        for entry in entries {
            writeln!(out, "{}", json(entry))?;
        }
        Ok(())
    })
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("manifest lines serialize")
}

/// BLAKE3 of a graph's text and its overrides, for [`Header::graph_blake3`].
pub fn graph_digest(source: &str, overrides: &[crate::load::Override]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(source.as_bytes());
    for o in overrides {
        hasher.update(b"\0");
        hasher.update(o.to_string().as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT,
            graph: "g.ron".into(),
            graph_blake3: "abc".into(),
            designs: 10,
            range: (0, 10),
            shard: None,
        }
    }

    #[test]
    fn a_torn_or_unsound_tail_is_dropped_and_the_run_continues_after_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let (manifest, next) = Manifest::open(&path, &header(), false).unwrap();
        assert_eq!(next, 0);
        let mut entries = Vec::new();
        for k in 0..4 {
            let file = dir.path().join(format!("{k}.png"));
            std::fs::write(&file, [k as u8]).unwrap();
            let files = [("save".to_string(), file)];
            entries.push(Entry::new(k, &Design::from_seed(k as u32), &files, dir.path()).unwrap());
        }
        manifest.append(&entries).unwrap();
        assert_eq!(entries[2].files[0].path, "2.png");

        // Killed while writing: a torn line; and design 3's file was changed since.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text += "{\"design\": 4, \"lab";
        std::fs::write(&path, text).unwrap();
        std::fs::write(dir.path().join("3.png"), [9]).unwrap();
        let (_, next) = Manifest::open(&path, &header(), false).unwrap();
        assert_eq!(next, 3);
        let kept = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            kept.lines().count(),
            4,
            "the header and designs 0, 1, 2:\n{kept}"
        );

        let other = Header {
            graph_blake3: "def".into(),
            ..header()
        };
        assert!(
            Manifest::open(&path, &other, false)
                .unwrap_err()
                .contains("--force")
        );
        assert_eq!(Manifest::open(&path, &other, true).unwrap().1, 0);
    }
}
