//! The preview's shared state: the latest run's images, timings and error, numbered per update, with
//! a condition variable the page's event streams wait on, and its JSON form for the page.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// One image on the page: a file an output node wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// The output node that wrote it.
    pub node: String,
    /// The file.
    pub path: PathBuf,
    /// The file as the run left it; the server sends only that very file (`None`: nothing).
    pub identity: Option<FileIdentity>,
}

/// What tells one file from another that took its name: device, inode, size, modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileIdentity {
    /// The identity of the regular file at `path` itself (a symbolic link has none).
    pub fn of_path(path: &std::path::Path) -> Option<FileIdentity> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        meta.is_file().then(|| Self::of(&meta))
    }

    /// The identity of an open file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        FileIdentity {
            device,
            inode,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// One node's line in the timings table.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Node id.
    pub node: String,
    /// ran, cached, FAILED or skipped.
    pub status: &'static str,
    /// Milliseconds.
    pub ms: f64,
}

/// The run in progress: which node, and how far it got through its designs.
#[derive(Clone, Debug, PartialEq)]
pub struct Running {
    /// The node running now.
    pub node: String,
    /// Its place in the plan, from 1.
    pub step: usize,
    /// The plan's length.
    pub steps: usize,
    /// Designs (or other units) done and in all, once the node reported them.
    pub done: Option<(usize, usize)>,
    /// `done` counts the designs of a streamed batch (through every streamed node).
    pub streamed: bool,
}

/// What the page shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Counts updates, for the event streams.
    pub version: u64,
    /// The number of the run that made the images; their URLs carry it, so a browser never shows a
    /// stale cached image.
    pub run: u64,
    /// The last good run's images.
    pub images: Vec<Image>,
    /// The diagnostics while the graph is broken or a node failed.
    pub error: Option<String>,
    /// The last run's per-node timings.
    pub timings: Vec<Timing>,
    /// The last run's wall time, in seconds.
    pub run_s: f64,
    /// From the save to the new images, in seconds, when a file change started the run.
    pub save_to_images_s: Option<f64>,
    /// The run in progress, if any.
    pub running: Option<Running>,
    /// The images are earlier runs' designs of this graph (watch started on a broken graph).
    pub earlier: bool,
}

impl Snapshot {
    /// The snapshot as JSON for the page; images are addressed as `/image/RUN/INDEX`; times in
    /// milliseconds to 0.1, in seconds to 0.001.
    pub fn to_json(&self) -> String {
        let round = |v: f64, digits: i32| (v * 10f64.powi(digits)).round() / 10f64.powi(digits);
        let images: Vec<serde_json::Value> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let name = image
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                serde_json::json!({
                    "node": image.node,
                    "name": name,
                    "url": format!("/image/{}/{i}", self.run),
                })
            })
            .collect();
        let timings: Vec<serde_json::Value> = self
            .timings
            .iter()
            .map(|t| serde_json::json!({"node": t.node, "status": t.status, "ms": round(t.ms, 1)}))
            .collect();
        serde_json::json!({
            "version": self.version,
            "run": self.run,
            "images": images,
            "error": self.error,
            "timings": timings,
            "run_s": round(self.run_s, 3),
            "save_to_images_s": self.save_to_images_s.map(|s| round(s, 3)),
            "earlier": self.earlier,
            "running": self.running.as_ref().map(|r| serde_json::json!({
                "node": r.node,
                "step": r.step,
                "steps": r.steps,
                "done": r.done.map(|d| d.0),
                "total": r.done.map(|d| d.1),
                "streamed": r.streamed,
            })),
        })
        .to_string()
    }
}

/// The shared, versioned snapshot.
#[derive(Default)]
pub struct Preview {
    snapshot: Mutex<Snapshot>,
    changed: Condvar,
}

impl Preview {
    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current snapshot.
    pub fn current(&self) -> Snapshot {
        self.lock().clone()
    }

    /// Changes the snapshot, bumps its version and wakes the waiting streams.
    pub fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        let mut snapshot = self.lock();
        change(&mut snapshot);
        snapshot.version += 1;
        self.changed.notify_all();
    }

    /// Waits until the version differs from `seen` (or `timeout` passes); returns the snapshot.
    pub fn wait_newer(&self, seen: u64, timeout: Duration) -> Snapshot {
        let snapshot = self.lock();
        let (snapshot, _) = self
            .changed
            .wait_timeout_while(snapshot, timeout, |s| s.version == seen)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        snapshot.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_addresses_images_by_version() {
        let preview = Preview::default();
        preview.update(|s| {
            s.images = vec![Image {
                node: "save".into(),
                path: PathBuf::from("out/a.png"),
                identity: None,
            }];
            s.error = Some("error: \"x\"\n --> g.ron:1:2".into());
            s.timings = vec![Timing {
                node: "w".into(),
                status: "ran",
                ms: 2.0,
            }];
            s.run_s = 0.5;
            s.run = 3;
        });
        let json: serde_json::Value = serde_json::from_str(&preview.current().to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "version": 1,
                "run": 3,
                "images": [{"node": "save", "name": "a.png", "url": "/image/3/0"}],
                "error": "error: \"x\"\n --> g.ron:1:2",
                "timings": [{"node": "w", "status": "ran", "ms": 2.0}],
                "run_s": 0.5,
                "save_to_images_s": null,
                "earlier": false,
                "running": null,
            })
        );
        assert_eq!(
            preview.wait_newer(0, Duration::from_secs(5)).version,
            1,
            "a newer version returns at once"
        );
        assert_eq!(preview.wait_newer(1, Duration::from_millis(10)).version, 1);
    }
}
