//! Discovery on the GPU against the same PCA of w from the CPU reference mapping, and the GANSpace
//! import of a tiny `.npz` written by numpy (tests/fixtures/ganspace-rect-32px.npz).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use drape_directions::{
    COMPONENTS_FILE, Components, Covariance, DirectionSet, DiscoverOptions, STDEV_SAMPLES, Target,
    discover, import_npz,
};
use drape_generator::seeds::RandomState;
use drape_generator::{AdapterChoice, Generator, GpuContext, Model, Truncation, cpu};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

#[test]
fn gpu_discovery_matches_pca_of_the_cpu_reference_mapping() {
    let model = Arc::new(Model::load(&fixtures().join("rect-32px")).expect("fixture model"));
    let context = Arc::new(GpuContext::new(&AdapterChoice::from_env()).expect("a GPU adapter"));
    let generator = Generator::new(context, model.clone()).expect("generator");
    let options = DiscoverOptions {
        samples: 3000,
        components: 5,
        seed: 11,
        chunk: 700,
    };
    let mut calls = Vec::new();
    let found = discover(&generator, &options, &mut |done, total| {
        calls.push((done, total))
    })
    .expect("discover");
    assert_eq!(
        calls.last(),
        Some(&(3000 + STDEV_SAMPLES, 3000 + STDEV_SAMPLES))
    );

    // The same stream of z, mapped on the CPU.
    let c = model.config();
    let mut stream = RandomState::new(11);
    let mut w_of = |n: usize| -> Vec<f32> {
        let z = stream.randn_f32(n * c.z_dim);
        let ws = cpu::map(&model, &z, n, &Truncation::NONE).expect("cpu map");
        ws.chunks_exact(c.num_ws * c.w_dim)
            .flat_map(|item| item[..c.w_dim].to_vec())
            .collect()
    };
    let mut sums = Covariance::new(c.w_dim);
    sums.add_rows(&w_of(3000));
    let pca = sums.principal_components(5);
    let fresh = w_of(STDEV_SAMPLES);

    assert_eq!((found.w_dim, found.len()), (c.w_dim, 5));
    for k in 0..5 {
        let (gpu, cpu_row) = (
            found.vector(k),
            &pca.vectors[k * c.w_dim..(k + 1) * c.w_dim],
        );
        let dot: f64 = gpu.iter().zip(cpu_row).map(|(&a, b)| a as f64 * b).sum();
        assert!(dot > 0.9999, "component {k}: GPU·CPU = {dot}");
        let ratio = pca.variance_ratios[k] as f32;
        assert!((found.explained_variance_ratio[k] - ratio).abs() < 1e-4 * ratio.max(1e-3));
        if k > 0 {
            assert!(found.explained_variance_ratio[k] <= found.explained_variance_ratio[k - 1]);
        }
        let largest = gpu
            .iter()
            .copied()
            .fold(0.0f32, |m, x| if x.abs() > m.abs() { x } else { m });
        assert!(largest > 0.0, "sign convention of component {k}");
        // stdev: std (ddof 0) of the projections of the next 5000 w.
        let projections: Vec<f64> = fresh
            .chunks_exact(c.w_dim)
            .map(|w| cpu_row.iter().zip(w).map(|(a, &b)| a * b as f64).sum())
            .collect();
        let mean = projections.iter().sum::<f64>() / projections.len() as f64;
        let std = (projections.iter().map(|p| (p - mean).powi(2)).sum::<f64>()
            / projections.len() as f64)
            .sqrt();
        assert!(
            ((found.stdev[k] as f64) - std).abs() < 1e-3 * std,
            "stdev {k}: {} vs {std}",
            found.stdev[k]
        );
    }
    assert_eq!(found.info.samples, Some(3000));
    assert_eq!(found.info.seed, Some(11));
}

#[test]
fn imports_a_ganspace_npz_and_checks_w_dim() {
    let npz = fixtures().join("ganspace-rect-32px.npz");
    let components = import_npz(&npz, 40).expect("import");
    assert_eq!(components.len(), 3);
    for k in 0..3 {
        let mut expected = vec![0.0f32; 40];
        expected[k] = 0.6;
        expected[k + 3] = 0.8;
        let row = components.vector(k);
        assert!(
            row.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6),
            "{row:?}"
        );
    }
    assert_eq!(components.stdev, vec![3.0, 2.0, 1.0]);
    assert_eq!(components.explained_variance_ratio, vec![0.5, 0.3, 0.1]);
    assert_eq!(components.mean[7], 0.7);
    assert!(components.info.method.contains("ganspace-rect-32px.npz"));

    // Saved into a model folder, the set resolves σ edits with lat_stdev.
    let dir = tempfile::tempdir().unwrap();
    components.save(&dir.path().join(COMPONENTS_FILE)).unwrap();
    assert_eq!(
        Components::load(&dir.path().join(COMPONENTS_FILE)).unwrap(),
        components
    );
    let set = DirectionSet::load(dir.path(), 40, 8).expect("set");
    let edit = set
        .resolve(&Target::Component(1), Some(-1.5), None, None)
        .expect("resolve");
    assert_eq!(edit.edit.offset, -3.0);
    assert_eq!(edit.record, ("c1".to_string(), "-1.5σ".to_string()));
    let unknown = set
        .resolve(&Target::Component(3), None, None, None)
        .unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("the model has components 0..3"),
        "{unknown}"
    );

    let wrong = import_npz(&npz, 32).unwrap_err().to_string();
    assert!(
        wrong.contains("40-dimensional, but the model's w has 32"),
        "{wrong}"
    );
    let not_npz = import_npz(&fixtures().join("README.md"), 40)
        .unwrap_err()
        .to_string();
    assert!(not_npz.contains("README.md"), "{not_npz}");
}
