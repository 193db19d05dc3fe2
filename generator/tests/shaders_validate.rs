//! Every shader in the top-level `shaders/` folder parses and validates with naga (no GPU needed),
//! and every one of them is compiled into the crate.

use drape_generator::gpu::shaders::{COMMON, SHADER_FILES, compose};
use std::path::PathBuf;

fn shader_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shaders")
}

fn validate(name: &str, source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| e.emit_to_string_with_path(source, name))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .map_err(|e| e.emit_to_string_with_path(source, name))?;
    Ok(())
}

#[test]
fn every_shader_file_validates() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shader_dir())
        .expect("shaders/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "found only {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let source = if name == "common.wgsl" {
            text
        } else {
            compose(&text)
        };
        if let Err(report) = validate(&name, &source) {
            failures.push(report);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_shader_file_is_compiled_into_the_crate() {
    for entry in std::fs::read_dir(shader_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        let embedded = if name == "common.wgsl" {
            Some(COMMON)
        } else {
            SHADER_FILES
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, source)| *source)
        };
        assert_eq!(
            embedded,
            Some(on_disk.as_str()),
            "{name} is not (or not identically) in SHADER_FILES"
        );
    }
}

#[test]
fn a_broken_shader_is_reported() {
    assert!(
        validate(
            "broken.wgsl",
            &compose("fn f() -> f32 { return undefined_name; }")
        )
        .is_err()
    );
}
