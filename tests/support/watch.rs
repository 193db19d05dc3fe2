//! The watch tests' part: a temp folder with the cache test graph and a copy of the fixture model,
//! a running `drape watch` whose output lines are read as they come, and graph edits in each of the
//! ways editors save.

use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::cache_graph_project;

/// A temp folder holding `graphs/cache.ron` and the `fixtures/rect-32px` model it uses.
pub struct Scene {
    pub dir: tempfile::TempDir,
}

impl Scene {
    pub fn new() -> Self {
        Scene {
            dir: cache_graph_project(),
        }
    }

    pub fn graph(&self) -> PathBuf {
        self.dir.path().join("graphs/cache.ron")
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("graphs/out").join(name)
    }

    pub fn read_out(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.out(name)).unwrap_or_else(|e| panic!("read output {name}: {e}"))
    }

    /// The graph text with `from` replaced by `to` (which must occur).
    pub fn edited(&self, from: &str, to: &str) -> String {
        let text = std::fs::read_to_string(self.graph()).expect("graph");
        assert!(text.contains(from), "{from:?} is not in the graph:\n{text}");
        text.replacen(from, to, 1)
    }
}

/// How an editor writes a file.
#[derive(Clone, Copy, Debug)]
pub enum SaveStyle {
    /// Overwrite the bytes of the same file, then cut it to length.
    InPlace,
    /// Write a temp file beside it and rename it over the original.
    TempAndRename,
    /// Truncate to empty, pause, then write.
    TruncateThenWrite,
    /// Delete the file, pause, then create it anew.
    DeleteAndCreate,
}

/// Longer than the watcher's debounce, so the two halves of a two-step save arrive apart.
const BETWEEN_STEPS: Duration = Duration::from_millis(300);

/// Saves `text` to `path` the way `style` does.
pub fn save(path: &Path, text: &str, style: SaveStyle) {
    match style {
        SaveStyle::InPlace => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .expect("open");
            file.rewind().expect("rewind");
            file.write_all(text.as_bytes()).expect("write");
            file.set_len(text.len() as u64).expect("set length");
        }
        SaveStyle::TempAndRename => {
            let temp = path.with_file_name(".cache.ron.swp");
            std::fs::write(&temp, text).expect("write temp");
            std::fs::rename(&temp, path).expect("rename");
        }
        SaveStyle::TruncateThenWrite => {
            let mut file = std::fs::File::create(path).expect("truncate");
            file.flush().expect("flush");
            std::thread::sleep(BETWEEN_STEPS);
            file.write_all(text.as_bytes()).expect("write");
        }
        SaveStyle::DeleteAndCreate => {
            std::fs::remove_file(path).expect("delete");
            std::thread::sleep(BETWEEN_STEPS);
            std::fs::write(path, text).expect("create");
        }
    }
}

/// A line `drape watch` printed.
#[derive(Debug)]
pub enum Line {
    Out(String),
    Err(String),
}

/// A running `drape watch`, killed when dropped.
pub struct Watch {
    child: Child,
    lines: Receiver<Line>,
    /// Everything printed to stderr so far.
    pub stderr: String,
    /// The preview page's address.
    pub url: String,
}

impl Watch {
    /// Starts `drape watch GRAPH --port 0` (plus `args`) and waits for the preview address.
    pub fn start(graph: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_drape"))
            .arg("watch")
            .arg(graph)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("drape watch starts");
        let (sender, lines) = channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let to_out = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = to_out.send(Line::Out(line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = sender.send(Line::Err(line));
            }
        });
        let mut watch = Watch {
            child,
            lines,
            stderr: String::new(),
            url: String::new(),
        };
        let line = watch.next_out("preview at ", Duration::from_secs(30));
        watch.url = line["preview at ".len()..].to_string();
        watch
    }

    /// The preview's `/state` as JSON.
    pub fn state(&self) -> serde_json::Value {
        use std::io::{Read, Write};
        let address = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("the preview answers");
        write!(
            stream,
            "GET /state HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        serde_json::from_str(body).expect("JSON state")
    }

    /// The next stdout line starting with `prefix` (other stdout lines are skipped).
    pub fn next_out(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Out(line)) if line.starts_with(prefix) => return line,
                Ok(Line::Out(_)) => {}
                Ok(Line::Err(line)) => {
                    self.stderr += &line;
                    self.stderr.push('\n');
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "drape watch printed no line starting with {prefix:?} in {timeout:?}; stderr:\n{}",
                    self.stderr
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "drape watch ended before printing {prefix:?}; stderr:\n{}",
                    self.stderr
                ),
            }
        }
    }

    /// Waits until stderr holds `needle` (it comes on its own pipe, so after or before stdout lines).
    pub fn stderr_until(&mut self, needle: &str, timeout: Duration) -> &str {
        let deadline = Instant::now() + timeout;
        while !self.stderr.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Err(line)) => self.stderr += &(line + "\n"),
                Ok(Line::Out(_)) => {}
                Err(_) => panic!("stderr never said {needle:?}; it says:\n{}", self.stderr),
            }
        }
        &self.stderr
    }

    /// The next run's summary line.
    pub fn next_run(&mut self) -> String {
        self.next_out("run ", Duration::from_secs(60))
    }

    /// Stdout lines printed within `wait` (for checking that nothing more ran).
    pub fn quiet_for(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            match line {
                Line::Out(line) => out.push(line),
                Line::Err(line) => self.stderr += &(line + "\n"),
            }
        }
        out
    }

    /// The resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node ids a run line says ran, sorted: `run 2: ran a 1.0 ms, b 2.0 ms | …` gives [a, b].
pub fn ran(line: &str) -> Vec<String> {
    let ran = line
        .split_once(": ran ")
        .and_then(|(_, rest)| rest.split(" | ").next())
        .unwrap_or_else(|| panic!("not a run line: {line}"));
    if ran == "nothing" {
        return Vec::new();
    }
    let mut ids: Vec<String> = ran
        .split(", ")
        .map(|entry| entry.split(' ').next().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}
