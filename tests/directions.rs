//! Attribute directions end to end on the fixture model: the `drape directions` commands, the
//! apply-direction node against a hand-made edit rendered by the CPU reference, its located errors
//! and suggestions, and its cache key following the content of directions.ron.

mod support;

use drape_engine::{Engine, parse_graph};
use drape_generator::seeds::z_from_seed;
use drape_generator::{Model, NoiseMode, Truncation, cpu};
use support::outputs::decode_png;
use support::{copy_fixture_model, drape, fixtures, succeeded, text};

/// A temp folder with a copy of the fixture model in `model/`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture_model(&dir.path().join("model"));
    dir
}

const NAMED: &str = "Directions(version: 1, directions: [\n\
    (name: \"red\", component: 1, layers: \"2..5\", amount: 1.5),\n\
    (name: \"tilt\", vector: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], unit: raw),\n\
])\n";

#[test]
fn discover_gallery_import_and_list_on_the_fixture_model() {
    let dir = workspace();
    let cwd = dir.path();
    let out = succeeded(&drape(
        &[
            "directions",
            "discover",
            "--model",
            "model",
            "--samples",
            "3000",
            "--components",
            "4",
            "--seed",
            "5",
        ],
        cwd,
    ));
    assert!(out.contains("4 components explain"), "{out}");
    assert!(out.contains("wrote model/components.safetensors"), "{out}");

    let out = succeeded(&drape(
        &[
            "directions",
            "gallery",
            "--model",
            "model",
            "--components",
            "0..2",
            "--seeds",
            "1,2",
            "--steps",
            "3",
            "--out",
            "g.png",
        ],
        cwd,
    ));
    assert!(out.contains("columns: -3.0σ  +0.0σ  +3.0σ"), "{out}");
    assert!(out.contains("row   4: component 1   seed 2"), "{out}");
    // 3 columns and 4 rows of 32 px images enlarged 4 times to 128 px, with 2 px padding; above them
    // a title and the column headers (-3σ, +0σ, +3σ), two 20 px bands of 14 px text; left of them the
    // row headers (`c0, seed 1`), about 60 px.
    let gallery = decode_png(&cwd.join("g.png"));
    assert_eq!(gallery.height, 2 * 20 + 4 * 130 + 2);
    let row_headers = gallery.width - (3 * 130 + 2);
    assert!((40..130).contains(&row_headers), "{}", gallery.width);
    let too_far = drape(
        &[
            "directions",
            "gallery",
            "--model",
            "model",
            "--components",
            "2..9",
        ],
        cwd,
    );
    assert_eq!(too_far.status.code(), Some(1));
    assert!(text(&too_far.stderr).contains("the model has components 0..4"));

    let npz = fixtures().join("ganspace-rect-32px.npz");
    let out = succeeded(&drape(
        &[
            "directions",
            "import",
            npz.to_str().unwrap(),
            "--model",
            "model",
        ],
        cwd,
    ));
    assert!(
        out.contains("3 components explain 90.00% of W's variance"),
        "{out}"
    );

    std::fs::write(cwd.join("model/directions.ron"), NAMED).unwrap();
    let out = succeeded(&drape(&["directions", "list", "--model", "model"], cwd));
    assert!(
        out.contains("3 components (imported from GANSpace file ganspace-rect-32px.npz"),
        "{out}"
    );
    assert!(
        out.contains("red                component 1  2..5        +1.5σ    2.000"),
        "{out}"
    );
    assert!(
        out.contains("tilt               vector       0..8           +1        -"),
        "{out}"
    );

    std::fs::write(
        cwd.join("model/directions.ron"),
        NAMED.replace("component: 1", "component: 7"),
    )
    .unwrap();
    let bad = drape(&["directions", "list", "--model", "model"], cwd);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("component 7 does not exist: the model has components 0..3"),
        "{stderr}"
    );
    assert!(stderr.contains("model/directions.ron:2:26"), "{stderr}");
    assert!(stderr.starts_with("error: component 7"), "{stderr}");
}

/// A workspace with the imported fixture directions and a graph editing seed 42.
fn edit_scene(edit: &str) -> (tempfile::TempDir, String) {
    let dir = workspace();
    let components = drape_directions::import_npz(&fixtures().join("ganspace-rect-32px.npz"), 40)
        .expect("import");
    components
        .save(&dir.path().join("model/components.safetensors"))
        .expect("save");
    std::fs::write(dir.path().join("model/directions.ron"), NAMED).unwrap();
    let graph = format!(
        "Graph(\n    version: 1,\n    model: \"model\",\n    nodes: {{\n\
         \x20       \"z\": SampleLatent(seeds: [42]),\n\
         \x20       \"w\": Map(z: \"z\"),\n\
         \x20       \"edit\": ApplyDirection(w: \"w\", {edit}),\n\
         \x20       \"image\": Synthesize(w: \"edit\", noise: none),\n\
         \x20       \"save\": Save(images: \"image\", path: \"out/{{index}}.png\"),\n    }},\n)\n"
    );
    std::fs::write(dir.path().join("edit.ron"), &graph).unwrap();
    (dir, graph)
}

#[test]
fn apply_direction_matches_a_hand_made_edit_on_the_cpu_reference() {
    let (dir, _) = edit_scene("edits: [(direction: \"red\")]");
    succeeded(&drape(&["run", "edit.ron"], dir.path()));
    let edited = decode_png(&dir.path().join("out/0.png"));
    assert_eq!((edited.width, edited.height), (32, 32));
    assert_eq!(
        edited.chunk("drape:design"),
        "seed 42, red +1.5σ; red=+1.5σ; noise=none"
    );
    let pixels = edited.pixels;

    // By hand: "red" is component 1 = 0.6·e1 + 0.8·e4 with stdev 2, 1.5σ over ws 2, 3 and 4.
    let model = Model::load(&dir.path().join("model")).unwrap();
    let c = model.config();
    let z = z_from_seed(42, c.z_dim);
    let plain = cpu::map(&model, &z, 1, &Truncation::NONE).unwrap();
    let mut ws = plain.clone();
    for l in 2..5 {
        ws[l * c.w_dim + 1] += 1.5 * 2.0 * 0.6;
        ws[l * c.w_dim + 4] += 1.5 * 2.0 * 0.8;
    }
    let to_pixels = |ws: &[f32]| -> Vec<u8> {
        let img = cpu::synthesize(&model, ws, 1, &NoiseMode::None).unwrap();
        let plane = c.resolution * c.resolution;
        (0..plane * 3)
            .map(|i| {
                (127.5 * img[(i % 3) * plane + i / 3] + 128.0)
                    .clamp(0.0, 255.0)
                    .floor() as u8
            })
            .collect()
    };
    let expected = to_pixels(&ws);
    let worst = pixels
        .iter()
        .zip(&expected)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(
        worst <= 1,
        "GPU edit differs from the hand-made one by {worst}"
    );
    let moved = to_pixels(&plain)
        .iter()
        .zip(&expected)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(moved > 4, "the edit changed the image by only {moved}");
}

#[test]
fn strips_multiply_designs_and_record_each_amount() {
    let (dir, _) = edit_scene(
        "edits: [(component: 0, unit: raw), (direction: \"tilt\", layers: \"0..=1\")], strip: [-2, 0.5], convention: centered",
    );
    let out = succeeded(&drape(&["run", "edit.ron"], dir.path()));
    assert!(out.contains("wrote out/3.png"), "{out}");
    assert!(!dir.path().join("out/4.png").exists());
    let design = |i: usize| {
        decode_png(&dir.path().join(format!("out/{i}.png")))
            .chunk("drape:design")
            .to_string()
    };
    assert_eq!(design(0), "seed 42, c0 -2; c0=-2; noise=none");
    assert_eq!(design(3), "seed 42, tilt +0.5; tilt=+0.5; noise=none");
}

#[test]
fn bad_edits_are_located_or_explained() {
    let (dir, _) = edit_scene("edits: [(direction: \"red\", component: 2)]");
    let out = drape(&["check", "edit.ron"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("edit 0 gives both a direction and a component"),
        "{stderr}"
    );
    assert!(stderr.contains("edit.ron:7:47"), "{stderr}");

    // An unknown name is found by `check` already (from directions.ron), located at the edits.
    let (dir, _) = edit_scene("edits: [(direction: \"rde\")]");
    for command in ["check", "run"] {
        let out = drape(&[command, "edit.ron"], dir.path());
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("unknown direction \"rde\""), "{stderr}");
        assert!(
            stderr.contains("did you mean \"red\"? the directions are: red, tilt"),
            "{stderr}"
        );
        assert!(stderr.contains("edit.ron:7:47"), "{command}: {stderr}");
    }

    let (dir, _) = edit_scene("edits: [(component: 1, layers: \"6..9\")]");
    let stderr = text(&drape(&["run", "edit.ron"], dir.path()).stderr);
    assert!(
        stderr.contains("layers 6..9 reach past the model's 8 ws"),
        "{stderr}"
    );
}

#[test]
fn editing_directions_ron_reruns_the_node_even_with_the_same_size_and_time() {
    let (dir, graph) = edit_scene("edits: [(direction: \"red\")]");
    let path = dir.path().join("edit.ron");
    let graph = parse_graph(&path, &graph, &drape_nodes::registry(), &[]).expect("graph");
    let mut engine = Engine::new();
    assert!(engine.run(&graph, &[], &mut |_| {}).unwrap().succeeded());
    let again = engine.run(&graph, &[], &mut |_| {}).unwrap();
    assert!(again.ran().is_empty(), "{:?}", again.ran());

    let named = dir.path().join("model/directions.ron");
    let modified = std::fs::metadata(&named).unwrap().modified().unwrap();
    std::fs::write(&named, NAMED.replace("amount: 1.5", "amount: 2.5")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&named)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let edited = engine.run(&graph, &[], &mut |_| {}).unwrap();
    let mut ran = edited.ran();
    ran.sort_unstable();
    assert_eq!(ran, ["edit", "image", "save"]);
}
