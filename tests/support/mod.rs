//! Shared by the integration tests: the repository's paths, running the `drape` binary, temp folders
//! holding a copy of the fixture model; reading outputs lives in `outputs`, the watch tests' scene and
//! process in `watch`, the headless browser in `browser`.

#![allow(dead_code)] // Each test crate uses its own part of this module.

pub mod browser;
pub mod outputs;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test fixtures folder, `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// Runs `drape ARGS` in `cwd` to completion.
pub fn drape(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drape"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("drape runs")
}

/// Printed bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The stdout of a run that must have succeeded (else fails showing stdout and stderr).
pub fn succeeded(out: &Output) -> String {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{all}");
    text(&out.stdout)
}

/// Copies the `rect-32px` fixture model's weights into `folder`, creating it.
pub fn copy_fixture_model(folder: &Path) {
    std::fs::create_dir_all(folder).expect("model dir");
    std::fs::copy(
        fixtures().join("rect-32px/generator.safetensors"),
        folder.join("generator.safetensors"),
    )
    .expect("copy model");
}

/// A temp folder holding `graphs/cache.ron` and the `fixtures/rect-32px` model it uses.
pub fn cache_graph_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture_model(&dir.path().join("fixtures/rect-32px"));
    std::fs::create_dir_all(dir.path().join("graphs")).expect("graphs dir");
    std::fs::copy(
        root().join("tests/graphs/cache.ron"),
        dir.path().join("graphs/cache.ron"),
    )
    .expect("copy graph");
    dir
}
