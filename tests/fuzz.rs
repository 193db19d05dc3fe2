//! Bounded fuzzing of the readers of files that come from other people: graph files, numpy latents,
//! model weights and design PNGs. Each target takes the seed files of its corpus (the repository's
//! own examples and fixtures plus `tests/fuzz/corpus/<target>/`), applies random mutations — bit
//! flips, byte changes, interesting numbers, insertions, deletions, truncations and splices of two
//! seeds — and requires the reader to answer with a value or an error, never a panic. Inputs that
//! make a reader panic are written to `target/fuzz-failures/` for replay. `DRAPE_FUZZ_CASES` sets
//! the cases per target (default 3,000; see docs/hardening.md for a long local run).

mod support;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::root;

/// One change to a byte string; positions are taken modulo its length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Interesting(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Splice(usize, usize),
}

/// Values that often sit on a boundary: zero, ones, signs, powers of two, all bits.
const INTERESTING: [u64; 10] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 40,
    u64::MAX,
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, v)| Mutation::SetByte(at, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, v)| Mutation::Interesting(at, v)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Mutation::Splice(from, to)),
    ]
}

/// Applies `mutations` to `seed`; a splice copies a slice of `other` into it. Half of the positions
/// fall in the first 512 bytes, where the headers are.
fn mutate(seed: &[u8], other: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    let pos = |at: usize, len: usize| {
        let len = len.max(1);
        if at.is_multiple_of(2) {
            (at / 2) % len.min(512)
        } else {
            (at / 2) % len
        }
    };
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::FlipBit(at, bit) if len > 0 => bytes[pos(*at, len)] ^= 1 << bit,
            Mutation::SetByte(at, v) if len > 0 => bytes[pos(*at, len)] = *v,
            Mutation::Interesting(at, which) if len > 0 => {
                let value = INTERESTING[*which as usize % INTERESTING.len()].to_le_bytes();
                let start = pos(*at, len);
                let n = (len - start).min(if which % 2 == 0 { 8 } else { 4 });
                bytes[start..start + n].copy_from_slice(&value[..n]);
            }
            Mutation::Insert(at, extra) => {
                let at = pos(*at, len + 1).min(len);
                bytes.splice(at..at, extra.iter().copied());
            }
            Mutation::Delete(at, n) if len > 0 => {
                let start = pos(*at, len);
                bytes.drain(start..(start + n).min(len));
            }
            Mutation::Truncate(at) => bytes.truncate(pos(*at, len + 1)),
            Mutation::Splice(from, to) if !other.is_empty() => {
                let from = from % other.len();
                let take = (other.len() - from).min(64);
                let at = pos(*to, len + 1).min(len);
                bytes.splice(at..at, other[from..from + take].iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

/// The seed files of a target: every file under `folders` (relative to the repository) whose name
/// ends with one of `extensions`.
fn seeds(folders: &[&str], extensions: &[&str]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(root().join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if extensions.iter().any(|e| name.ends_with(e)) {
                found.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    assert!(!found.is_empty(), "no seeds in {folders:?}");
    found
}

fn cases() -> u32 {
    std::env::var("DRAPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

/// Runs `reader` on mutations of `seeds`; a panic saves the input and fails the test.
fn fuzz(target: &str, seeds: &[(PathBuf, Vec<u8>)], reader: impl Fn(&[u8], &Path)) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..seeds.len(),
        0..seeds.len(),
        proptest::collection::vec(mutation(), 0..6),
    );
    let executions = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&strategy, |(seed, other, mutations)| {
        let (path, bytes) = &seeds[seed];
        let input = mutate(bytes, &seeds[other].1, &mutations);
        let count = executions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader(&input, path)));
        if outcome.is_err() {
            let dir = root().join("target/fuzz-failures").join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let saved = dir.join(format!("crash-{count}"));
            std::fs::write(&saved, &input).unwrap();
            return Err(TestCaseError::fail(format!(
                "{target}: the reader panicked on a mutation of {} (saved as {})",
                path.display(),
                saved.display()
            )));
        }
        Ok(())
    });
    eprintln!("{target}: {} executions", executions.into_inner());
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn graph_loader() {
    let registry = drape_nodes::registry();
    fuzz("graph", &graph_seeds(), |bytes, _| {
        read_graph(&registry, bytes)
    });
}

fn graph_seeds() -> Vec<(PathBuf, Vec<u8>)> {
    seeds(
        &[
            "graphs",
            "tests/graphs",
            "tests/bad_graphs",
            "tests/fuzz/corpus/graph",
        ],
        &[".ron"],
    )
}

fn read_graph(registry: &drape_engine::Registry, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let graph = drape_engine::parse_graph(Path::new("fuzz.ron"), &text, registry, &[]);
    // Rendering the diagnostics is part of reading: carets and columns over any text.
    if let Err(diagnostics) = graph {
        let _ = diagnostics.to_string();
    }
}

/// Every corpus graph as it is, the inputs that once made the loader panic among them.
#[test]
fn the_graph_corpus_reads_without_panicking() {
    let registry = drape_nodes::registry();
    for (_, bytes) in graph_seeds() {
        read_graph(&registry, &bytes);
    }
}

#[test]
fn numpy_latent_reader() {
    let seeds = seeds(
        &["tests/fixtures", "tests/fuzz/corpus/npy"],
        &[".npy", ".npz"],
    );
    let dir = tempfile::tempdir().unwrap();
    fuzz("npy", &seeds, |bytes, seed| {
        let ext = seed.extension().unwrap().to_string_lossy().into_owned();
        let file = dir.path().join(format!("latents.{ext}"));
        std::fs::write(&file, bytes).unwrap();
        let _ = drape_nodes::latent_file::read(&file, None);
    });
}

#[test]
fn model_weights_loader() {
    let seeds = seeds(&["tests/fuzz/corpus/safetensors"], &[".safetensors"]);
    let dir = tempfile::tempdir().unwrap();
    fuzz("safetensors", &seeds, |bytes, _| {
        std::fs::write(dir.path().join("generator.safetensors"), bytes).unwrap();
        let _ = drape_generator::Model::load(dir.path());
    });
}

#[test]
fn design_png_recipe_reader() {
    let seeds = seeds(&["tests/fuzz/corpus/png"], &[".png"]);
    let dir = tempfile::tempdir().unwrap();
    fuzz("png", &seeds, |bytes, _| {
        let file = dir.path().join("design.png");
        std::fs::write(&file, bytes).unwrap();
        if let Ok(embedded) = drape_nodes::recipe::read(&file) {
            let _ = drape_engine::printable(&embedded.design);
        }
    });
}

/// The seeds themselves are read without error, so mutations start from inputs that reach deep.
#[test]
fn the_seeds_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in seeds(&["tests/fuzz/corpus/safetensors"], &[".safetensors"]) {
        std::fs::write(dir.path().join("generator.safetensors"), bytes).unwrap();
        drape_generator::Model::load(dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    for (path, _) in seeds(&["tests/fuzz/corpus/npy"], &[".npy"]) {
        drape_nodes::latent_file::read(&path, None)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    for (path, _) in seeds(&["tests/fuzz/corpus/png"], &[".png"]) {
        drape_nodes::recipe::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
