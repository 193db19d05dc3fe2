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
