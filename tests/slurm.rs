//! A real Slurm cluster (one node on this machine, started by scripts/slurm-local.sh, which
//! scripts/test.sh runs) renders a 64-design batch as `sbatch --array=0-3`: the four shards together
//! are the single-process run, byte for byte, and their manifests merge without gaps. Fails, rather
//! than skips, without a cluster.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::{copy_fixture_model, drape, succeeded, text};

const GRAPH: &str = r#"Graph(
    version: 1,
    model: "model",
    nodes: {
        "z": SampleLatent(seeds: "0..64"),
        "w": Map(z: "z", truncation: 0.7),
        "images": Synthesize(w: "w", noise: random),
        "save": Save(images: "images", path: "out/{seed}.png"),
    },
)
"#;

fn project() -> tempfile::TempDir {
    // Under /tmp, which the cluster's jobs see as this process does.
    let dir = tempfile::Builder::new()
        .prefix("drape-slurm-")
        .tempdir_in("/tmp")
        .unwrap();
    copy_fixture_model(&dir.path().join("model"));
    std::fs::write(dir.path().join("graph.ron"), GRAPH).unwrap();
    dir
}

fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("out"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_slurm_job_array_renders_the_batch_in_four_shards() {
    let sinfo = Command::new("sinfo").args(["-h", "-o", "%t"]).output();
    let state = sinfo.as_ref().map(|o| text(&o.stdout)).unwrap_or_default();
    assert!(
        state.contains("idle") || state.contains("mix") || state.contains("alloc"),
        "no Slurm cluster answers (sinfo: {state:?}, {:?}); start one with scripts/slurm-local.sh \
         (scripts/test.sh does)",
        sinfo.as_ref().err()
    );

    let sharded = project();
    let script = format!(
        "#!/bin/bash\n#SBATCH --array=0-3\n#SBATCH --output=slurm-%A_%a.log\nset -euo pipefail\n\
         exec {} run graph.ron --backend cpu\n",
        env!("CARGO_BIN_EXE_drape")
    );
    std::fs::write(sharded.path().join("batch.sbatch"), script).unwrap();
    let out = Command::new("sbatch")
        .args(["--wait", "--chdir"])
        .arg(sharded.path())
        .arg(sharded.path().join("batch.sbatch"))
        .output()
        .expect("sbatch runs");
    let logs: Vec<String> = std::fs::read_dir(sharded.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("slurm-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        out.status.success(),
        "sbatch: {}{}\n{}",
        text(&out.stdout),
        text(&out.stderr),
        logs.join("\n")
    );
    assert_eq!(logs.len(), 4, "one log per array task");
    for index in 0..4 {
        let shard = format!("shard {index}/4 (from the Slurm array task)");
        assert!(
            logs.iter().any(|log| log.contains(&shard)),
            "{shard}:\n{}",
            logs.join("\n")
        );
    }

    let single = project();
    succeeded(&drape(
        &["run", "graph.ron", "--backend", "cpu"],
        single.path(),
    ));
    let shards = outputs(sharded.path());
    assert_eq!(shards.len(), 64);
    assert!(
        shards == outputs(single.path()),
        "the shards' files are the single run's, byte for byte"
    );

    let manifests: Vec<String> = (0..4)
        .map(|i| format!("graph.shard-{i}-of-4.manifest.jsonl"))
        .collect();
    let mut args = vec!["manifest"];
    args.extend(manifests.iter().map(String::as_str));
    let stdout = succeeded(&drape(&args, sharded.path()));
    assert!(
        stdout.contains("64 of 64 designs, 0 missing, 0 duplicated"),
        "{stdout}"
    );
}
