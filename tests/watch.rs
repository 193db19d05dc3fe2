//! `drape watch` end to end on the fixture model: each way an editor saves triggers one re-run of just
//! what the edit touched, with new outputs; a broken edit keeps the last outputs and reports the
//! problem, and the fix recovers; a taken port is a clear error; memory stays flat over many reloads.

mod support;

use std::time::{Duration, Instant};

use support::watch::{SaveStyle, Scene, Watch, ran, save};
use support::{drape, text};

fn ids(names: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[test]
fn model_on_the_command_line_replaces_the_graphs() {
    let scene = Scene::new();
    let model = scene
        .graph()
        .parent()
        .unwrap()
        .join("../fixtures/rect-32px");
    let moved = scene.graph().parent().unwrap().join("../elsewhere");
    std::fs::rename(&model, &moved).unwrap();
    let mut watch = Watch::start(&scene.graph(), &["--model", moved.to_str().unwrap()]);
    let first = watch.next_run();
    assert!(ran(&first).contains(&"image".to_string()), "{first}");
    assert!(scene.out("design-42.png").is_file());
}

#[test]
fn every_save_style_reruns_only_what_the_edit_touched() {
    let scene = Scene::new();
    let mut watch = Watch::start(&scene.graph(), &[]);
    let first = watch.next_run();
    assert_eq!(
        ran(&first),
        ids(&["z", "w", "image", "sheet", "save-each", "save-sheet"])
    );

    // The grid's padding: the grid and the saves (they embed the graph text) re-run, nothing else.
    let sheet = scene.read_out("sheet.png");
    let text = scene.edited("columns: 2", "columns: 2, padding: 4");
    save(&scene.graph(), &text, SaveStyle::InPlace);
    let line = watch.next_run();
    assert_eq!(
        ran(&line),
        ids(&["sheet", "save-each", "save-sheet"]),
        "{line}"
    );
    assert!(line.contains("s from save to new images"), "{line}");
    assert_ne!(scene.read_out("sheet.png"), sheet, "the sheet was re-drawn");

    // The truncation: from the mapping down.
    let design = scene.read_out("design-42.png");
    let text = scene.edited("truncation: 0.7", "truncation: 0.5");
    save(&scene.graph(), &text, SaveStyle::TempAndRename);
    let line = watch.next_run();
    assert_eq!(
        ran(&line),
        ids(&["w", "image", "sheet", "save-each", "save-sheet"]),
        "{line}"
    );
    assert_ne!(scene.read_out("design-42.png"), design, "a new design");

    // A save path: only the saves, no synthesis.
    let text = scene.edited("out/sheet.png", "out/sheet-2.png");
    save(&scene.graph(), &text, SaveStyle::TruncateThenWrite);
    let line = watch.next_run();
    assert_eq!(ran(&line), ids(&["save-each", "save-sheet"]), "{line}");
    assert!(scene.out("sheet-2.png").is_file());

    // The seeds: everything.
    let text = scene.edited("[42, 123456]", "[42, 7]");
    save(&scene.graph(), &text, SaveStyle::DeleteAndCreate);
    let line = watch.next_run();
    assert_eq!(
        ran(&line),
        ids(&["z", "w", "image", "sheet", "save-each", "save-sheet"]),
        "{line}"
    );
    assert!(scene.out("design-7.png").is_file());

    // One run per save: drape's own outputs and the editors' half-saves started none.
    let extra = watch.quiet_for(Duration::from_millis(600));
    assert!(extra.is_empty(), "unexpected output: {extra:?}");
    assert!(watch.stderr.is_empty(), "{}", watch.stderr);
}

/// Sends `request` (with `{port}` filled in) to the watch's server; the answer's status line and body.
fn ask(watch: &Watch, request: &str) -> (String, String) {
    use std::io::{Read, Write};
    let address = watch.url.trim_start_matches("http://");
    let port = address.rsplit(':').next().unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .write_all(request.replace("{port}", port).as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn the_page_edits_the_graph_and_nobody_else_can() {
    let scene = Scene::new();
    let mut watch = Watch::start(&scene.graph(), &[]);
    watch.next_run();
    let (status, page) = ask(&watch, "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let token = page
        .split("const TOKEN = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(token.len(), 32);
    let original = std::fs::read_to_string(scene.graph()).unwrap();
    let body = r#"{"target": "w.truncation", "value": "0.5"}"#;
    let post = |host: &str, origin: &str, token: &str| {
        let mut request = format!("POST /edit HTTP/1.1\r\nHost: {host}\r\n");
        if !origin.is_empty() {
            request += &format!("Origin: {origin}\r\n");
        }
        if !token.is_empty() {
            request += &format!("X-Drape-Token: {token}\r\n");
        }
        request += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        ask(&watch, &request).0
    };
    let own = ("127.0.0.1:{port}", "http://127.0.0.1:{port}");
    let refusals = [
        (
            "another site",
            post(own.0, "https://attacker.example", token),
        ),
        (
            "a rebinding name",
            post("attacker.example:{port}", own.1, token),
        ),
        ("no secret", post(own.0, own.1, "")),
        (
            "a guessed secret",
            post(own.0, own.1, "0123456789abcdef0123456789abcdef"),
        ),
        ("no origin", post(own.0, "", token)),
    ];
    for (who, status) in refusals {
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{who}");
    }
    assert_eq!(std::fs::read_to_string(scene.graph()).unwrap(), original);

    assert_eq!(post(own.0, own.1, token), "HTTP/1.1 200 OK");
    assert_eq!(
        std::fs::read_to_string(scene.graph()).unwrap(),
        original.replace("truncation: 0.7", "truncation: 0.5")
    );
    let line = watch.next_run();
    assert!(line.starts_with("run 2: ran w"), "{line}");

    // Keep a design, and open another as a graph of its own.
    let request = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{{port}}\r\nOrigin: http://127.0.0.1:{{port}}\r\n\
             X-Drape-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let (status, body) = ask(&watch, &request("/keep", r#"{"index": 0}"#));
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let kept = scene.graph().parent().unwrap().join("kept");
    assert!(
        kept.join("design-42.png").is_file() && kept.join("sheet.png").is_file(),
        "{body}"
    );
    assert_eq!(
        std::fs::read(kept.join("design-42.png")).unwrap(),
        scene.read_out("design-42.png"),
        "the design with its recipe"
    );
    let (status, body) = ask(&watch, &request("/open", r#"{"index": 1}"#));
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let opened = scene.graph().with_file_name("design-123456.ron");
    let text = std::fs::read_to_string(&opened).unwrap();
    assert!(
        text.starts_with("// From the recipe of design-123456.png (seed 123456"),
        "{text}"
    );
    assert!(
        text.contains("truncation: 0.5"),
        "the graph as the design was made:\n{text}"
    );
    let (status, _) = ask(&watch, &request("/keep", r#"{"index": 99}"#));
    assert_eq!(status, "HTTP/1.1 422 Unprocessable Content");
}

#[test]
fn starting_on_a_broken_graph_shows_the_designs_earlier_runs_saved() {
    let scene = Scene::new();
    let graph = scene.graph();
    support::succeeded(&drape(
        &["run", graph.to_str().unwrap()],
        graph.parent().unwrap(),
    ));
    // Another graph's design in the same folder is not shown.
    let other = graph.with_file_name("other.ron");
    std::fs::write(&other, scene.edited("out/sheet.png", "out/other-sheet.png")).unwrap();
    support::succeeded(&drape(
        &["run", other.to_str().unwrap(), "--only", "save-sheet"],
        graph.parent().unwrap(),
    ));

    let broken = scene.edited("truncation: 0.7", "truncaton: 0.7");
    save(&graph, &broken, SaveStyle::InPlace);
    let mut watch = Watch::start(&graph, &[]);
    watch.next_out("broken: ", Duration::from_secs(30));
    let state = watch.state();
    assert_eq!(state["earlier"], true, "{state}");
    let mut shown: Vec<String> = state["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i["node"].as_str().unwrap(),
                i["name"].as_str().unwrap()
            )
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            "save-each design-123456.png",
            "save-each design-42.png",
            "save-sheet sheet.png"
        ]
    );
    assert!(state["error"].as_str().unwrap().contains("truncaton"));
}

#[test]
fn a_newer_save_cancels_a_long_run_and_the_page_shows_its_progress() {
    let scene = Scene::new();
    let mut watch = Watch::start(&scene.graph(), &[]);
    watch.next_run();

    // Hours of work by mistake: the page shows how far it got.
    let huge = scene
        .edited("[42, 123456]", "\"0..100000\"")
        .replace("columns: 2", "columns: 400");
    save(&scene.graph(), &huge, SaveStyle::InPlace);
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let state = watch.state();
        if state["running"]["streamed"] == true && state["running"]["done"].as_u64() > Some(0) {
            break state["running"].clone();
        }
        assert!(Instant::now() < deadline, "no progress shown: {state}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(running["total"], 100_000, "{running}");

    // The fix wins at the next chunk boundary.
    let fixed = scene
        .edited("\"0..100000\"", "[42, 7]")
        .replace("columns: 400", "columns: 2");
    let saved = Instant::now();
    save(&scene.graph(), &fixed, SaveStyle::InPlace);
    let line = watch.next_out("cancelled ", Duration::from_secs(10));
    assert!(
        line.ends_with(": the graph changed again") && line.contains("image"),
        "{line}"
    );
    let line = watch.next_run();
    assert!(line.starts_with("run 2: "), "{line}");
    assert!(
        saved.elapsed() < Duration::from_secs(10),
        "the fix took {:?}",
        saved.elapsed()
    );
    assert!(scene.out("design-7.png").is_file());
    assert_eq!(watch.state()["running"], serde_json::Value::Null);
}

#[test]
fn a_broken_edit_keeps_the_last_outputs_and_the_fix_recovers() {
    let scene = Scene::new();
    let mut watch = Watch::start(&scene.graph(), &[]);
    watch.next_run();
    let design = scene.read_out("design-42.png");

    let broken = scene.edited("truncation: 0.7", "truncaton: 0.5");
    save(&scene.graph(), &broken, SaveStyle::TempAndRename);
    let line = watch.next_out("broken: ", Duration::from_secs(30));
    assert!(line.contains("keeping run 1's outputs"), "{line}");
    let stderr = watch.stderr_until("1 error", Duration::from_secs(10));
    assert!(
        stderr.contains("node \"w\": unknown parameter `truncaton` for Map")
            && stderr.contains("cache.ron:7:"),
        "the diagnostic names the node and its place:\n{stderr}"
    );
    assert_eq!(scene.read_out("design-42.png"), design, "outputs untouched");

    let fixed = scene.edited("truncaton: 0.5", "truncation: 0.5");
    save(&scene.graph(), &fixed, SaveStyle::InPlace);
    let line = watch.next_run();
    assert!(line.starts_with("run 2: "), "{line}");
    assert!(ran(&line).contains(&"image".to_string()), "{line}");
    assert_ne!(scene.read_out("design-42.png"), design, "the fix ran");
}

#[test]
fn new_model_weights_rerun_the_model_nodes_and_other_model_files_do_not() {
    let scene = Scene::new();
    let model = scene.dir.path().join("fixtures/rect-32px");
    let mut watch = Watch::start(&scene.graph(), &[]);
    watch.next_run();
    let design = scene.read_out("design-42.png");

    std::fs::write(model.join("MODEL.md"), "# rect-32px\n").expect("write model card");
    let line = watch.next_run();
    assert_eq!(
        ran(&line),
        ids(&[]),
        "a new model card changes no design: {line}"
    );
    assert_eq!(
        scene.read_out("design-42.png"),
        design,
        "same weights, same design"
    );

    // A re-exported model, saved by rename: the new weights are loaded, not the ones kept in memory.
    let weights = support::root().join("tests/fixtures/clamp-32px/generator.safetensors");
    std::fs::copy(weights, model.join(".generator.tmp")).expect("copy weights");
    std::fs::rename(
        model.join(".generator.tmp"),
        model.join("generator.safetensors"),
    )
    .expect("rename weights");
    let line = watch.next_run();
    assert!(ran(&line).contains(&"image".to_string()), "{line}");
    assert_ne!(
        scene.read_out("design-42.png"),
        design,
        "a design of the new model"
    );
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let scene = Scene::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let output = drape(
        &[
            "watch",
            scene.graph().to_str().expect("utf-8 path"),
            "--port",
            &port,
        ],
        scene.dir.path(),
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is already in use"))
            && stderr.contains("--port"),
        "{stderr}"
    );
}

#[test]
#[ignore = "a measurement (minutes): cargo test --test watch -- --ignored --nocapture"]
fn memory_stays_flat_over_thousands_of_reloads() {
    let reloads: u32 = std::env::var("DRAPE_RELOADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let scene = Scene::new();
    let mut watch = Watch::start(&scene.graph(), &[]);
    watch.next_run();
    let original = std::fs::read_to_string(scene.graph()).expect("graph");
    let mut settled = 0;
    for i in 1..=reloads {
        // A new truncation each time: new cache keys for the mapping, synthesis, grid and saves.
        let truncation = format!("truncation: {:.4}", 0.3 + f64::from(i) * 1e-4);
        let text = original.replacen("truncation: 0.7", &truncation, 1);
        save(&scene.graph(), &text, SaveStyle::InPlace);
        let line = watch.next_run();
        assert!(ran(&line).contains(&"image".to_string()), "{line}");
        if i == reloads / 10 {
            settled = watch.rss_kib();
        }
        if i % (reloads / 10).max(1) == 0 || i == 1 {
            eprintln!("after {i} reloads: {} KiB resident", watch.rss_kib());
        }
    }
    let grown = watch.rss_kib().saturating_sub(settled);
    assert!(
        grown < 16 * 1024,
        "resident memory grew by {grown} KiB after the first tenth of {reloads} reloads"
    );
}
