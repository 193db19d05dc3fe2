//! Batches on the fixture model: a batch killed with SIGKILL halfway and run again ends with exactly
//! the files and manifest of an uninterrupted run, re-rendering none of the finished designs; shards
//! written separately add up to the single-process run byte for byte, and `drape manifest` finds gaps.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{copy_fixture_model, drape, succeeded, text};

/// A folder with the fixture model and `graph.ron` saving each of `seeds`' designs.
fn project(seeds: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture_model(&dir.path().join("model"));
    let graph = format!(
        r#"Graph(
    version: 1,
    model: "model",
    nodes: {{
        "z": SampleLatent(seeds: "{seeds}"),
        "w": Map(z: "z", truncation: 0.7),
        "images": Synthesize(w: "w", noise: random),
        "save": Save(images: "images", path: "out/{{seed}}.png"),
    }},
)
"#
    );
    std::fs::write(dir.path().join("graph.ron"), graph).expect("graph");
    dir
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_batch_killed_halfway_continues_to_exactly_the_uninterrupted_result() {
    let seeds = "0..5000";
    let killed = project(seeds);
    let manifest = killed.path().join("graph.manifest.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drape"))
        .args(["run", "graph.ron", "--backend", "cpu"])
        .current_dir(killed.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while lines(&manifest) < 200 {
        assert!(Instant::now() < deadline, "the batch never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let finished = lines(&manifest) - 1;
    assert!(finished < 5000, "killed after {finished} designs");
    let before: BTreeMap<String, std::time::SystemTime> = files(&killed.path().join("out"))
        .keys()
        .map(|name| {
            let at = killed.path().join("out").join(name);
            (
                name.clone(),
                std::fs::metadata(at).unwrap().modified().unwrap(),
            )
        })
        .collect();

    let out = drape(&["run", "graph.ron", "--backend", "cpu"], killed.path());
    let stdout = succeeded(&out);
    assert!(
        stdout.contains(&format!(
            "continued the batch: {} of its 5000 designs were finished before",
            finished - finished % 64
        )),
        "{stdout}"
    );
    // Whole chunks of finished designs were not rendered again.
    let after = files(&killed.path().join("out"));
    let untouched = before
        .iter()
        .filter(|(name, when)| {
            std::fs::metadata(killed.path().join("out").join(name))
                .unwrap()
                .modified()
                .unwrap()
                == **when
        })
        .count();
    assert!(
        untouched >= finished - finished % 64,
        "{untouched} of {finished} kept"
    );

    let whole = project(seeds);
    succeeded(&drape(
        &["run", "graph.ron", "--backend", "cpu"],
        whole.path(),
    ));
    assert_eq!(after.len(), 5000, "no partial or temporary files");
    assert!(
        after == files(&whole.path().join("out")),
        "the same files, byte for byte"
    );
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        std::fs::read_to_string(whole.path().join("graph.manifest.jsonl")).unwrap()
    );
}

#[test]
fn shards_add_up_to_the_single_process_run_and_gaps_are_found() {
    let sharded = project("0..64");
    for index in 0..4 {
        let shard = format!("{index}/4");
        let out = drape(&["run", "graph.ron", "--shard", &shard], sharded.path());
        assert!(succeeded(&out).contains(&format!("shard {index}/4 (from --shard)")));
    }
    let single = project("0..64");
    succeeded(&drape(&["run", "graph.ron"], single.path()));
    let shard_files = files(&sharded.path().join("out"));
    assert_eq!(shard_files.len(), 64);
    assert!(
        shard_files == files(&single.path().join("out")),
        "byte for byte"
    );

    let manifests: Vec<String> = (0..4)
        .map(|i| format!("graph.shard-{i}-of-4.manifest.jsonl"))
        .collect();
    let mut args = vec!["manifest"];
    args.extend(manifests.iter().map(String::as_str));
    args.extend(["--out", "all.jsonl"]);
    let stdout = succeeded(&drape(&args, sharded.path()));
    assert!(
        stdout.contains("4 manifests: 64 of 64 designs, 0 missing, 0 duplicated"),
        "{stdout}"
    );
    let merged = std::fs::read_to_string(sharded.path().join("all.jsonl")).unwrap();
    assert_eq!(merged.lines().count(), 65);

    let out = drape(
        &[
            "manifest",
            &manifests[0],
            &manifests[2],
            &manifests[3],
            &manifests[3],
        ],
        sharded.path(),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("missing designs: 16..=31"), "{stderr}");
    assert!(stderr.contains("duplicate: design 48 is in"), "{stderr}");

    // The Slurm array task's index and count come from the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_drape"))
        .args(["run", "graph.ron"])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .current_dir(sharded.path())
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("shard 1/4 (from the Slurm array task)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("continued the batch: 16 of its 16 designs"),
        "{stdout}"
    );
}
