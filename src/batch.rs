//! Batches on a cluster: which share of the designs this process renders (`--shard`, Slurm job arrays,
//! Kubernetes Indexed Jobs), where its manifest goes, and `drape manifest`, which checks the shards'
//! manifests of a finished batch for gaps and duplicates and merges them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use drape_engine::manifest::{self, Entry, Header};

/// `INDEX/COUNT`, as `--shard` takes it.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (index, count) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not INDEX/COUNT, e.g. 0/4"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{text}` is not INDEX/COUNT of whole numbers, e.g. 0/4"))
    };
    let (index, count) = (number(index)?, number(count)?);
    if count == 0 || index >= count {
        return Err(format!(
            "shard {index}/{count}: the index counts from 0 and stays under the count"
        ));
    }
    Ok((index, count))
}

/// The shard to render: `--shard` when given; otherwise a Slurm array task's or a Kubernetes Indexed
/// Job's index from the environment (the count from Slurm, or `--shards` for Kubernetes); and where it
/// came from, for the user.
pub fn shard(
    explicit: Option<(usize, usize)>,
    shards: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<((usize, usize), String)>> {
    if let Some(shard) = explicit {
        return Ok(Some((shard, "--shard".into())));
    }
    let number = |name: &str| -> anyhow::Result<Option<usize>> {
        env(name)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .with_context(|| format!("{name}={v} is not a whole number"))
            })
            .transpose()
    };
    if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let count = match number("SLURM_ARRAY_TASK_COUNT")? {
            Some(count) => count,
            None => number("SLURM_ARRAY_TASK_MAX")?
                .map(|max| max + 1 - min)
                .context("SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT or _MAX")?,
        };
        if shards.is_some_and(|n| n != count) {
            bail!(
                "--shards {} disagrees with the Slurm array's {count} tasks",
                shards.unwrap_or(0)
            );
        }
        let shard = parse_shard(&format!("{}/{count}", task.saturating_sub(min)))
            .map_err(anyhow::Error::msg)?;
        return Ok(Some((shard, "the Slurm array task".into())));
    }
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = shards.context(
            "JOB_COMPLETION_INDEX is set: give the Indexed Job's completions with --shards N",
        )?;
        let shard = parse_shard(&format!("{index}/{count}")).map_err(anyhow::Error::msg)?;
        return Ok(Some((shard, "the Kubernetes Indexed Job".into())));
    }
    if let Some(n) = shards {
        bail!(
            "--shards {n} takes the shard's index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, \
             and neither is set; give --shard INDEX/{n} instead"
        );
    }
    Ok(None)
}

/// Where a batch's manifest goes: beside the outputs (in `--out-dir`, else the graph's folder), named
/// after the graph and the shard.
pub fn manifest_path(
    graph: &Path,
    out_dir: Option<&Path>,
    shard: Option<(usize, usize)>,
) -> PathBuf {
    let stem = graph.file_stem().unwrap_or_default().to_string_lossy();
    let name = match shard {
        Some((index, count)) => format!("{stem}.shard-{index}-of-{count}.manifest.jsonl"),
        None => format!("{stem}.manifest.jsonl"),
    };
    let folder = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| graph.parent().unwrap_or(Path::new("")).to_path_buf());
    folder.join(name)
}

/// `drape manifest FILES… [--out MERGED]`: checks that the manifests are of one batch and together
/// cover every design once; writes them merged (in design order) when asked.
pub fn check(files: &[PathBuf], out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut first: Option<(PathBuf, Header)> = None;
    let mut designs: BTreeMap<usize, (Entry, PathBuf)> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for file in files {
        let (header, entries) = manifest::read(file).map_err(anyhow::Error::msg)?;
        if let Some((other, seen)) = &first {
            let same = (&header.graph_blake3, header.designs) == (&seen.graph_blake3, seen.designs);
            if !same {
                bail!(
                    "{} and {} are manifests of different batches (another graph, version or size)",
                    other.display(),
                    file.display()
                );
            }
        } else {
            first = Some((file.clone(), header.clone()));
        }
        for entry in entries {
            let design = entry.design;
            if let Some((_, before)) = designs.insert(design, (entry, file.clone())) {
                duplicates.push(format!(
                    "design {design} is in {} and {}",
                    before.display(),
                    file.display()
                ));
            }
        }
    }
    let Some((_, header)) = first else {
        bail!("give the manifests to check");
    };
    let missing: Vec<usize> = (0..header.designs)
        .filter(|k| !designs.contains_key(k))
        .collect();
    println!(
        "{} manifest{}: {} of {} designs, {} missing, {} duplicated",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        designs.len(),
        header.designs,
        missing.len(),
        duplicates.len()
    );
    for line in &duplicates {
        eprintln!("duplicate: {line}");
    }
    if !missing.is_empty() {
        eprintln!("missing designs: {}", ranges(&missing));
    }
    if !missing.is_empty() || !duplicates.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    if let Some(out) = out {
        let merged = Header {
            range: (0, header.designs),
            shard: None,
            ..header
        };
        // Paths stay relative to each shard manifest's folder: re-root them at the merged one's.
        let folder_of = |p: &Path| p.parent().unwrap_or(Path::new("")).to_path_buf();
        let out_folder = folder_of(out);
        let entries: Vec<Entry> = designs
            .into_values()
            .map(|(mut entry, from)| {
                for file in &mut entry.files {
                    let at = folder_of(&from).join(&file.path);
                    file.path = manifest::relative(&at, &out_folder);
                }
                entry
            })
            .collect();
        manifest::write(out, &merged, &entries)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `0..=3, 7, 9..=12` for sorted numbers.
fn ranges(numbers: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}..={}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_come_from_the_flag_slurm_or_kubernetes() {
        let none = |_: &str| None;
        assert_eq!(shard(Some((1, 4)), None, none).unwrap().unwrap().0, (1, 4));
        assert!(shard(None, None, none).unwrap().is_none());
        let slurm = |name: &str| match name {
            "SLURM_ARRAY_TASK_ID" => Some("7".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("5".to_string()),
            "SLURM_ARRAY_TASK_MAX" => Some("8".to_string()),
            _ => None,
        };
        assert_eq!(shard(None, None, slurm).unwrap().unwrap().0, (2, 4));
        assert!(
            shard(None, Some(3), slurm).is_err(),
            "a disagreeing --shards"
        );
        let k8s = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "2".to_string());
        assert_eq!(shard(None, Some(3), k8s).unwrap().unwrap().0, (2, 3));
        assert!(shard(None, None, k8s).is_err(), "the count is needed");
        assert!(shard(None, Some(3), none).is_err(), "the index is needed");
        for bad in ["4/4", "1", "a/b", "0/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        assert_eq!(ranges(&[0, 1, 2, 3, 7, 9, 10]), "0..=3, 7, 9..=10");
    }
}
