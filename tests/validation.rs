//! The corpus of broken graphs in tests/bad_graphs/: each one's full diagnostics are frozen as an
//! insta snapshot, so any change to what a user is told shows up in review.

use std::path::Path;

#[test]
fn broken_graphs_report_every_problem_with_its_location() {
    let registry = drape_nodes::registry();
    insta::glob!("bad_graphs/*.ron", |absolute| {
        let name = absolute.file_name().expect("file name");
        let shown = Path::new("tests/bad_graphs").join(name);
        let source = std::fs::read_to_string(absolute).expect("readable corpus file");
        let diagnostics = drape_engine::parse_graph(&shown, &source, &registry, &[])
            .expect_err("every graph in the corpus is broken");
        insta::assert_snapshot!(diagnostics.to_string());
    });
}

#[test]
fn overrides_are_checked_like_the_file() {
    let registry = drape_nodes::registry();
    let path = Path::new("tests/graphs/cache.ron");
    let source = std::fs::read_to_string(path).expect("test graph");
    let overrides: Vec<drape_engine::Override> = [
        "w.truncation=3",
        "w.psi=0.5",
        "nobody.seeds=1",
        "image.noise=none",
    ]
    .iter()
    .map(|o| o.parse().expect("override syntax"))
    .collect();
    let diagnostics =
        drape_engine::parse_graph(path, &source, &registry, &overrides).expect_err("bad overrides");
    insta::assert_snapshot!(diagnostics.to_string());
}

#[test]
fn element_overrides_reach_into_lists_and_records() {
    let registry = drape_nodes::registry();
    let path = Path::new("graphs/clothinggan.ron");
    let source = std::fs::read_to_string(path).expect("example graph");
    let parse = |sets: &[&str]| {
        let overrides: Vec<drape_engine::Override> = sets
            .iter()
            .map(|o| o.parse().expect("override syntax"))
            .collect();
        drape_engine::parse_graph(path, &source, &registry, &overrides)
    };
    let amounts = |graph: &drape_engine::Graph| -> Vec<String> {
        let edit = &graph.nodes[graph.index_of("edit").unwrap()];
        let Some(drape_engine::ParamValue::List(edits)) = edit.params.get("edits") else {
            panic!("edits")
        };
        edits
            .iter()
            .map(|e| match e {
                drape_engine::ParamValue::Record(r) => r.get("amount").unwrap().to_string(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let before = amounts(&parse(&[]).unwrap());
    let after = amounts(&parse(&["edit.edits[2].amount=5"]).unwrap());
    assert_eq!(after[2], "5");
    assert_eq!(
        (&after[..2], &after[3..]),
        (&before[..2], &before[3..]),
        "only that entry"
    );

    let errors = parse(&[
        "edit.edits[9].amount=5",
        "edit.edits[0].amout=1",
        "edit.edits[1].amount=\"x\"",
    ])
    .expect_err("bad element overrides");
    insta::assert_snapshot!(errors.to_string());
}
