//! The CPU reference, the native CPU backend and the GPU generator against the golden fixtures written by the PyTorch
//! reference (`tests/fixtures/<config>/`): z from seeds, ws after mapping and truncation, every
//! block's activations and skip image (const noise), and the images with const and no noise.

mod common;

use common::*;
use drape_generator::cpu::{self, Activation};
use drape_generator::seeds::z_from_seed;
use drape_generator::{
    Backend, CpuOptions, Generator, Model, NativeCpu, NoiseMode, Truncation, TruncationTarget,
};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Allowed error on images of magnitude ~1, as the issue demands (absolute).
const IMAGE_TOLERANCE: f32 = 1e-4;
/// Allowed error on ws and intermediate activations, relative to the tensor's magnitude (≥ 1).
/// The fixtures themselves sit up to 4e-6 from a float64 run.
const LAYER_TOLERANCE: f32 = 2e-5;

const FIXTURES: [&str; 3] = ["map2-16px", "clamp-32px", "rect-32px"];

struct Golden {
    tensors: HashMap<String, Vec<f32>>,
    seeds: Vec<u32>,
    truncation: Truncation,
}

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn load_golden(name: &str) -> Golden {
    let path = fixture_dir(name).join("golden.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, data)
        })
        .collect();
    let seeds = meta["seeds"]
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let cutoff = match meta["truncation_cutoff"].as_str() {
        "none" => None,
        n => Some(n.parse().unwrap()),
    };
    let psi = meta["truncation_psi"].parse().unwrap();
    Golden {
        tensors,
        seeds,
        truncation: Truncation {
            psi,
            cutoff,
            target: TruncationTarget::WAvg,
        },
    }
}

/// Compares every `act.*` tensor of the fixture with the traced run; returns the largest differences.
fn compare_activations(label: &str, golden: &Golden, trace: &[Activation]) -> f32 {
    let mut worst = 0f32;
    let mut compared = 0;
    for (name, want) in golden.tensors.iter().filter(|(n, _)| n.starts_with("act.")) {
        let got = trace
            .iter()
            .find(|a| &a.name == name)
            .unwrap_or_else(|| panic!("{label}: {name} not traced"));
        worst = worst.max(assert_close(
            &format!("{label} {name}"),
            &got.data,
            want,
            LAYER_TOLERANCE,
        ));
        compared += 1;
    }
    assert!(
        compared >= 5,
        "{label}: only {compared} activations in the fixture"
    );
    worst
}

/// Which implementation a fixture is checked against.
enum Under {
    Reference,
    Native,
    Gpu(Arc<drape_generator::GpuContext>),
}

fn check_fixture(name: &str, under: &Under) {
    let model = Arc::new(Model::load(&fixture_dir(name)).unwrap());
    let golden = load_golden(name);
    let c = model.config().clone();
    let batch = golden.seeds.len();
    let z: Vec<f32> = golden
        .seeds
        .iter()
        .flat_map(|&s| z_from_seed(s, c.z_dim))
        .collect();
    assert_eq!(z, golden.tensors["z"], "{name}: z from seeds is bit-exact");
    let want_ws = &golden.tensors["ws"];
    let backend: Box<dyn Backend> = match under {
        Under::Reference => {
            let ws = cpu::map(&model, &z, batch, &golden.truncation).unwrap();
            let d_ws = assert_close(&format!("{name} cpu ws"), &ws, want_ws, LAYER_TOLERANCE);
            let (img, trace) =
                cpu::synthesize_traced(&model, want_ws, batch, &NoiseMode::Const).unwrap();
            let d_act = compare_activations(&format!("{name} cpu"), &golden, &trace);
            let d_const = assert_close(
                &format!("{name} cpu img_const"),
                &img,
                &golden.tensors["img_const"],
                IMAGE_TOLERANCE,
            );
            let none = cpu::synthesize(&model, want_ws, batch, &NoiseMode::None).unwrap();
            let d_none = assert_close(
                &format!("{name} cpu img_none"),
                &none,
                &golden.tensors["img_none"],
                IMAGE_TOLERANCE,
            );
            eprintln!(
                "{name} CPU: ws {d_ws:.1e}, activations {d_act:.1e}, img_const {d_const:.1e}, img_none {d_none:.1e}"
            );
            return;
        }
        Under::Native => Box::new(NativeCpu::new(model.clone(), &CpuOptions::default()).unwrap()),
        Under::Gpu(gpu) => Box::new(Generator::new(gpu.clone(), model.clone()).unwrap()),
    };
    let generator = &backend;
    let label = generator.describe();
    let ws = generator.map(&z, batch, &golden.truncation).unwrap();
    let d_ws = assert_close(&format!("{name} {label} ws"), &ws, want_ws, LAYER_TOLERANCE);
    let (img, trace) = generator
        .synthesize_traced(want_ws, batch, &NoiseMode::Const)
        .unwrap();
    let d_act = compare_activations(&format!("{name} {label}"), &golden, &trace);
    let d_const = assert_close(
        &format!("{name} {label} img_const"),
        &img,
        &golden.tensors["img_const"],
        IMAGE_TOLERANCE,
    );
    let none = generator
        .synthesize(want_ws, batch, &NoiseMode::None)
        .unwrap();
    let d_none = assert_close(
        &format!("{name} {label} img_none"),
        &none,
        &golden.tensors["img_none"],
        IMAGE_TOLERANCE,
    );
    eprintln!(
        "{name} {label}: ws {d_ws:.1e}, activations {d_act:.1e}, img_const {d_const:.1e}, img_none {d_none:.1e}"
    );
}

#[test]
fn cpu_reference_matches_the_fixtures() {
    for name in FIXTURES {
        check_fixture(name, &Under::Reference);
    }
}

#[test]
fn gpu_matches_the_fixtures() {
    let Some(gpu) = gpu() else { return };
    for name in FIXTURES {
        check_fixture(name, &Under::Gpu(gpu.clone()));
    }
}

#[test]
fn native_cpu_matches_the_fixtures() {
    for name in FIXTURES {
        check_fixture(name, &Under::Native);
    }
}

#[test]
fn every_fixture_folder_is_tested() {
    let mut found: Vec<String> = std::fs::read_dir(fixture_dir(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("golden.safetensors").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed = FIXTURES.map(String::from).to_vec();
    listed.sort();
    assert_eq!(found, listed);
}
