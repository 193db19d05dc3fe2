//! Round trips through rosinality-shaped checkpoints written here in both torch formats, and the
//! bad-file cases: truncation, unknown globals, missing and misshapen tensors, foreign files.

use super::rosinality::source_name;
use super::*;
use crate::model::{RandomWeights, StorageType};
use std::io::Write as _;

/// A minimal protocol-2 pickle writer for test files.
struct Pickle(Vec<u8>);

impl Pickle {
    fn new() -> Self {
        Pickle(vec![0x80, 2])
    }
    fn op(&mut self, op: u8) -> &mut Self {
        self.0.push(op);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.op(b'X');
        self.0.extend((s.len() as u32).to_le_bytes());
        self.0.extend(s.as_bytes());
        self
    }
    fn int(&mut self, i: usize) -> &mut Self {
        self.op(b'J');
        self.0.extend((i as i32).to_le_bytes());
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(b'c');
        self.0.extend(format!("{module}\n{name}\n").as_bytes());
        self
    }
    fn ints(&mut self, v: &[usize]) -> &mut Self {
        self.op(b'(');
        for &i in v {
            self.int(i);
        }
        self.op(b't')
    }
    fn tensor(&mut self, key: &str, shape: &[usize]) -> &mut Self {
        let numel = shape.iter().product();
        let mut stride = vec![1; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * shape[d + 1];
        }
        self.global("torch._utils", "_rebuild_tensor_v2").op(b'(');
        self.op(b'(').str("storage").global("torch", "FloatStorage");
        self.str(key).str("cpu").int(numel).op(b't').op(b'Q');
        self.int(0).ints(shape).ints(&stride).op(0x89);
        self.global("collections", "OrderedDict").op(b')').op(b'R');
        self.op(b't').op(b'R')
    }
    fn end(&mut self) -> Vec<u8> {
        self.op(b'.');
        std::mem::take(&mut self.0)
    }
}

/// The rosinality shape of a canonical tensor (leading ones as upstream stores them).
fn rosinality_shape(name: &str, shape: &[usize]) -> Vec<usize> {
    let lead = name.ends_with("conv.weight")
        || name.starts_with("noises.")
        || name == "input.input"
        || name == "latent_avg";
    let mut shape = shape.to_vec();
    if name.starts_with("noises.") {
        shape.insert(0, 1);
    }
    if name.starts_with("to_rgb") && name.ends_with(".bias") && !name.contains(".conv.") {
        shape = vec![1, 3, 1, 1];
    }
    if lead && name != "latent_avg" {
        shape.insert(0, 1);
    }
    shape
}

/// A rosinality checkpoint of `model` as (name, shape, data) entries, plus its blur kernels.
fn rosinality_entries(model: &Model) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let k = [1.0f32, 3.0, 3.0, 1.0];
    let kernel: Vec<f32> = k
        .iter()
        .flat_map(|a| k.iter().map(move |b| a * b / 16.0))
        .collect();
    let mut entries: Vec<_> = model
        .named_tensors()
        .into_iter()
        .map(|(spec, data)| {
            let name = source_name(&spec.name).unwrap();
            let shape = rosinality_shape(&name, &spec.shape);
            (name, shape, data.to_vec())
        })
        .collect();
    let levels = model.config().block_resolutions().len() - 1;
    for level in 0..levels {
        for name in [
            format!("convs.{}.conv.blur.kernel", 2 * level),
            format!("to_rgbs.{level}.upsample.kernel"),
        ] {
            entries.push((name, vec![4, 4], kernel.clone()));
        }
    }
    entries
}

/// The data pickle `{'g_ema': OrderedDict(...), 'latent_avg': tensor}` with storage keys 0, 1, ….
fn data_pickle(entries: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut p = Pickle::new();
    p.op(b'}').op(b'(').str("g_ema");
    p.global("collections", "OrderedDict")
        .op(b')')
        .op(b'R')
        .op(b'(');
    let mut latent = None;
    for (key, (name, shape, _)) in entries.iter().enumerate() {
        if name == "latent_avg" {
            latent = Some((key, shape));
            continue;
        }
        p.str(name).tensor(&key.to_string(), shape);
    }
    p.op(b'u');
    if let Some((key, shape)) = latent {
        p.str("latent_avg").tensor(&key.to_string(), shape);
    }
    p.op(b'u').end()
}

fn legacy_file(entries: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut out = vec![0x80, 2, 0x8a, 10];
    out.extend(torchfile_magic());
    out.push(b'.');
    out.extend(Pickle::new().int(1001).end());
    out.extend(
        Pickle::new()
            .op(b'}')
            .str("little_endian")
            .op(0x88)
            .op(b's')
            .end(),
    );
    out.extend(data_pickle(entries));
    let mut keys = Pickle::new();
    keys.op(b']').op(b'(');
    for key in 0..entries.len() {
        keys.str(&key.to_string());
    }
    out.extend(keys.op(b'e').end());
    for (_, _, data) in entries {
        out.extend((data.len() as u64).to_le_bytes());
        out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    }
    out
}

fn torchfile_magic() -> [u8; 10] {
    [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
}

fn zip_file(entries: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", options).unwrap();
    zip.write_all(&data_pickle(entries)).unwrap();
    for (key, (_, _, data)) in entries.iter().enumerate() {
        zip.start_file(format!("archive/data/{key}"), options)
            .unwrap();
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn small_model() -> Model {
    let mut config = ModelConfig::new(16, 8, 8, 2, 128, 16, None).unwrap();
    config.channel_table = Some(vec![12, 10, 6]);
    config.validate().unwrap();
    Model::random(
        config,
        RandomWeights {
            seed: 3,
            spread: 0.3,
        },
    )
}

fn assert_same(a: &Model, b: &Model) {
    assert_eq!(a.config().channel_table, b.config().channel_table);
    for ((sa, da), (sb, db)) in a.named_tensors().into_iter().zip(b.named_tensors()) {
        assert_eq!(sa, sb);
        assert_eq!(da, db, "{}", sa.name);
    }
}

#[test]
fn rosinality_checkpoints_round_trip_in_both_formats() {
    let model = small_model();
    let entries = rosinality_entries(&model);
    for (bytes, container) in [
        (legacy_file(&entries), Container::Legacy),
        (zip_file(&entries), Container::Zip),
    ] {
        let imported = import_bytes(Path::new("ros.pt"), &bytes, None).unwrap();
        assert_eq!(imported.container, container);
        assert_eq!(imported.flavour, Flavour::Rosinality);
        assert_same(&imported.model, &model);
    }
}

#[test]
fn channel_tables_that_follow_base_and_max_are_written_as_such() {
    let config = ModelConfig::new(32, 8, 8, 2, 512, 64, None).unwrap();
    let fitted = config_with_channels(config.clone(), &[64, 64, 32, 16]);
    assert_eq!((fitted.channel_base, fitted.channel_max), (512, 64));
    assert_eq!(fitted.channel_table, None);
    let odd = config_with_channels(config, &[48, 40, 32, 24]);
    assert_eq!(odd.channel_table, Some(vec![48, 40, 32, 24]));
}

#[test]
fn a_missing_latent_avg_gives_zero_w_avg_and_says_so() {
    let model = small_model();
    let mut entries = rosinality_entries(&model);
    entries.retain(|(name, _, _)| name != "latent_avg");
    let imported = import_bytes(Path::new("ros.pt"), &legacy_file(&entries), None).unwrap();
    assert!(imported.model.w_avg().iter().all(|&v| v == 0.0));
    assert!(imported.notes.iter().any(|n| n.contains("latent_avg")));
}

#[test]
fn truncated_files_are_refused_without_panicking() {
    let entries = rosinality_entries(&small_model());
    for bytes in [legacy_file(&entries), zip_file(&entries)] {
        for cut in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
            let result = import_bytes(Path::new("cut.pt"), &bytes[..cut], None);
            assert!(result.is_err(), "cut at {cut} of {}", bytes.len());
        }
    }
    let legacy = legacy_file(&entries);
    let err = import_bytes(Path::new("cut.pt"), &legacy[..legacy.len() - 4], None).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cut.pt") && message.contains("ends inside storage"),
        "{message}"
    );
}

#[test]
fn unknown_globals_are_refused_by_name() {
    let bytes = Pickle::new()
        .global("os", "system")
        .str("echo hi")
        .op(0x85)
        .op(b'R')
        .end();
    let err = import_bytes(Path::new("evil.pkl"), &bytes, None).unwrap_err();
    assert!(matches!(&err, ImportError::UnknownGlobal { global, .. } if global == "os.system"));
    assert!(err.to_string().contains("`os.system`"), "{err}");
}

#[test]
fn missing_and_misshapen_tensors_are_named() {
    let model = small_model();
    let mut entries = rosinality_entries(&model);
    entries.retain(|(name, _, _)| name != "convs.1.activate.bias");
    let err = import_bytes(Path::new("ros.pt"), &legacy_file(&entries), None).unwrap_err();
    assert!(
        matches!(&err, ImportError::MissingTensor { tensor, canonical, .. }
            if tensor == "g_ema.convs.1.activate.bias" && canonical == "synthesis.b8.conv1.bias"),
        "{err}"
    );
    let mut entries = rosinality_entries(&model);
    let entry = entries
        .iter_mut()
        .find(|e| e.0 == "style.2.weight")
        .unwrap();
    entry.1 = vec![4, 16];
    let err = import_bytes(Path::new("ros.pt"), &legacy_file(&entries), None).unwrap_err();
    assert!(
        matches!(&err, ImportError::Shape { tensor, .. } if tensor == "g_ema.style.2.weight"),
        "{err}"
    );
}

#[test]
fn files_without_a_generator_are_refused() {
    let bytes = Pickle::new().op(b'}').str("model").int(1).op(b's').end();
    let err = import_bytes(Path::new("other.pt"), &bytes, None).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("g_ema") && message.contains("\"model\""),
        "{message}"
    );
    let err = import_bytes(Path::new("text.pt"), b"hello", None).unwrap_err();
    assert!(matches!(err, ImportError::Format { .. }), "{err}");
}

#[test]
fn the_model_folder_is_written_whole_or_not_at_all() {
    let model = small_model();
    let bytes = legacy_file(&rosinality_entries(&model));
    let imported = import_bytes(Path::new("ros.pt"), &bytes, None).unwrap();
    let source = SourceInfo::from_bytes(Path::new("dir/ros.pt"), &bytes);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported");
    write_model_folder(&imported, &source, &out, StorageType::F32).unwrap();
    let loaded = Model::load(&out).unwrap();
    assert_same(&loaded, &model);
    let card = std::fs::read_to_string(out.join("MODEL.md")).unwrap();
    for needle in [
        "# imported",
        "`ros.pt`",
        &source.sha256,
        "legacy",
        "`g_ema`",
    ] {
        assert!(card.contains(needle), "{needle} in {card}");
    }
    let err = write_model_folder(&imported, &source, &out, StorageType::F32).unwrap_err();
    assert!(matches!(err, ImportError::OutExists { .. }), "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary folder is left behind");
}

#[test]
fn hostile_nesting_is_dropped_without_overflowing_the_stack() {
    let mut p = Pickle::new();
    p.op(b'N');
    for _ in 0..1_000_000 {
        p.op(0x85);
    }
    let err = import_bytes(Path::new("deep.pkl"), &p.end(), None).unwrap_err();
    assert!(matches!(err, ImportError::Unsupported { .. }), "{err}");
}

/// ClothingGAN's lookbook network in shape (512 px, z/w 512, 8 mapping layers, 16 ws, rosinality
/// channel multiplier 2) with random weights: imported from a legacy checkpoint and rendered on the
/// native CPU backend. Slow (a 120 MB file); run with `--ignored --nocapture` to see the timings.
#[test]
#[ignore = "writes and imports a 120 MB checkpoint; run by hand for the timings"]
fn a_lookbook_shaped_network_imports_and_renders() {
    use crate::backend::Backend;
    use std::time::Instant;
    let config = ModelConfig::new(512, 512, 512, 8, 32768, 512, None).unwrap();
    assert_eq!(config.num_ws, 16);
    let model = Model::random(
        config,
        RandomWeights {
            seed: 5,
            spread: 0.3,
        },
    );
    let bytes = legacy_file(&rosinality_entries(&model));
    let start = Instant::now();
    let imported = import_bytes(Path::new("lookbook.pt"), &bytes, None).unwrap();
    println!(
        "import of a {} MB legacy checkpoint: {:.2} s",
        bytes.len() >> 20,
        start.elapsed().as_secs_f64()
    );
    assert_same(&imported.model, &model);
    let c = imported.model.config();
    assert_eq!(
        (c.channel_base, c.channel_max, c.channel_table.as_ref()),
        (32768, 512, None)
    );
    let cpu = crate::native::NativeCpu::new(
        std::sync::Arc::new(imported.model),
        &crate::native::CpuOptions::default(),
    )
    .unwrap();
    let z = crate::seeds::z_from_seed(1, 512);
    let ws = cpu
        .map(&z, 1, &crate::Truncation::toward_zero(0.7))
        .unwrap();
    cpu.synthesize(&ws, 1, &crate::NoiseMode::Const).unwrap();
    let start = Instant::now();
    let runs = 3;
    for _ in 0..runs {
        let img = cpu.synthesize(&ws, 1, &crate::NoiseMode::Const).unwrap();
        assert!(img.iter().all(|v| v.is_finite()));
    }
    println!(
        "512 px synthesis on the native CPU backend ({} threads): {:.2} s per image",
        cpu.threads(),
        start.elapsed().as_secs_f64() / runs as f64
    );
}
