//! What `drape watch` watches and which file events count: the graph file, every file of the graph's
//! model folder and the input files its nodes read, through a debounced watcher on their folders (so
//! editors that save by rename, truncation or delete-and-create are seen), never drape's own outputs.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use drape_engine::{Canceller, Graph, ParamValue};
use notify_debouncer_full::notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

/// How long the watcher waits for a burst of events (an editor's save) to settle.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// The files whose changes trigger a reload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    /// The graph file.
    pub graph: PathBuf,
    /// The model folder: any file directly in it counts.
    pub model_dir: Option<PathBuf>,
    /// Files the graph's nodes read (path parameters of nodes that are not outputs).
    pub inputs: BTreeSet<PathBuf>,
}

impl Targets {
    /// The graph file alone (before it ever loaded).
    pub fn graph_only(graph: &Path) -> Self {
        Targets {
            graph: absolute(graph),
            ..Targets::default()
        }
    }

    /// The graph file, its model folder and its input files.
    pub fn of(graph_file: &Path, graph: &Graph) -> Self {
        let inputs = graph
            .nodes
            .iter()
            .filter(|n| !n.op.is_output())
            .flat_map(|n| n.params.iter())
            .filter_map(|(_, value)| match value {
                ParamValue::Path { resolved, .. } => Some(absolute(resolved)),
                _ => None,
            })
            .collect();
        Targets {
            graph: absolute(graph_file),
            model_dir: graph.model.as_deref().map(absolute),
            inputs,
        }
    }

    /// The folders to watch (non-recursively).
    fn folders(&self) -> BTreeSet<PathBuf> {
        let parent = |p: &Path| p.parent().map(Path::to_path_buf);
        let mut folders: BTreeSet<PathBuf> = parent(&self.graph).into_iter().collect();
        folders.extend(self.model_dir.clone());
        folders.extend(self.inputs.iter().filter_map(|p| parent(p)));
        folders
    }

    /// True when a change to `path` should reload the graph; `outputs` are the files drape wrote.
    pub fn wants(&self, path: &Path, outputs: &HashSet<PathBuf>) -> bool {
        let drapes_own = outputs.contains(path)
            || path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".drape-"));
        if drapes_own {
            return false;
        }
        path == self.graph || self.inputs.contains(path) || self.in_model_dir(path)
    }

    /// True for a file directly in the model folder.
    fn in_model_dir(&self, path: &Path) -> bool {
        self.model_dir
            .as_deref()
            .is_some_and(|dir| path.parent() == Some(dir))
    }
}

/// True for event kinds that can change a file's content or existence (not reads or access times).
pub fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

/// A batch of changes to watched files.
pub struct Change {
    /// When the first of them happened.
    pub first: Instant,
    /// True when the graph file was the only watched file that changed.
    pub only_graph: bool,
    /// True when the model's weights file changed (other files of its folder, such as directions, are
    /// read by the nodes that use them and keyed by content).
    pub model_changed: bool,
}

/// A debounced watcher over the folders of its [`Targets`].
pub struct FileWatcher {
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    events: Receiver<DebounceEventResult>,
    folders: BTreeSet<PathBuf>,
    targets: Targets,
}

impl FileWatcher {
    /// Starts watching the targets' folders. A change to the graph file cancels the run in progress
    /// through `canceller` as soon as it is seen, so that the newest save wins.
    pub fn new(targets: Targets, canceller: Canceller) -> anyhow::Result<Self> {
        let (sender, events): (Sender<DebounceEventResult>, _) = std::sync::mpsc::channel();
        let graph = targets.graph.clone();
        let handler = move |result: DebounceEventResult| {
            let graph_changed = result.as_ref().is_ok_and(|events| {
                events
                    .iter()
                    .any(|e| changes_content(&e.kind) && e.paths.contains(&graph))
            });
            if graph_changed {
                canceller.cancel();
            }
            // The receiver goes only when watch ends.
            let _ = sender.send(result);
        };
        let debouncer = new_debouncer(DEBOUNCE, None, handler)?;
        let mut watcher = FileWatcher {
            debouncer,
            events,
            folders: BTreeSet::new(),
            targets: Targets::default(),
        };
        watcher.retarget(targets)?;
        Ok(watcher)
    }

    /// Watches these targets from now on (the model folder or inputs may change with the graph).
    pub fn retarget(&mut self, targets: Targets) -> anyhow::Result<()> {
        let folders = targets.folders();
        for gone in self.folders.difference(&folders) {
            // A folder that was deleted is no longer watched anyway.
            let _ = self.debouncer.unwatch(gone);
        }
        for new in folders.difference(&self.folders) {
            if new == targets.graph.parent().unwrap_or(Path::new("/")) {
                self.debouncer
                    .watch(new, RecursiveMode::NonRecursive)
                    .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", new.display()))?;
            } else if new.is_dir() {
                // A missing model folder is reported by validation; the graph's own changes still count.
                let _ = self.debouncer.watch(new, RecursiveMode::NonRecursive);
            }
        }
        self.folders = folders;
        self.targets = targets;
        Ok(())
    }

    /// Blocks until a wanted file changed; says when the first of those changes happened.
    pub fn next_change(&self, outputs: &HashSet<PathBuf>) -> anyhow::Result<Change> {
        loop {
            let batch = self
                .events
                .recv()
                .map_err(|_| anyhow::anyhow!("the file watcher stopped"))?;
            let events = match batch {
                Ok(events) => events,
                Err(errors) => {
                    for error in errors {
                        eprintln!("warning: file watcher: {error}");
                    }
                    continue;
                }
            };
            let wanted: Vec<_> = events
                .iter()
                .filter(|e| changes_content(&e.kind))
                .filter(|e| e.paths.iter().any(|p| self.targets.wants(p, outputs)))
                .collect();
            if let Some(first) = wanted.iter().map(|e| e.time).min() {
                let only_graph = wanted.iter().all(|e| {
                    e.paths
                        .iter()
                        .all(|p| *p == self.targets.graph || !self.targets.wants(p, outputs))
                });
                let model_changed = wanted.iter().flat_map(|e| e.paths.iter()).any(|p| {
                    self.targets.in_model_dir(p)
                        && p.file_name() == Some(drape_engine::MODEL_WEIGHTS_FILE.as_ref())
                });
                return Ok(Change {
                    first,
                    only_graph,
                    model_changed,
                });
            }
        }
    }
}

/// `path` made absolute against the current folder (as the watcher reports paths), not resolved.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_debouncer_full::notify::event::{CreateKind, RenameMode};

    fn targets() -> Targets {
        Targets {
            graph: PathBuf::from("/g/mix.ron"),
            model_dir: Some(PathBuf::from("/m/clothing")),
            inputs: BTreeSet::from([PathBuf::from("/in/palette.ron")]),
        }
    }

    #[test]
    fn wants_the_graph_model_files_and_inputs_but_not_outputs() {
        let t = targets();
        let outputs = HashSet::from([PathBuf::from("/m/clothing/sheet.png")]);
        for wanted in [
            "/g/mix.ron",
            "/m/clothing/directions.ron",
            "/m/clothing/generator.safetensors",
            "/in/palette.ron",
        ] {
            assert!(t.wants(Path::new(wanted), &outputs), "{wanted}");
        }
        for ignored in [
            "/g/.mix.ron.swp",
            "/g/mix.ron~",
            "/g/out/sheet.png",
            "/m/clothing/sheet.png",
            "/m/clothing/.drape-x.png.tmp",
            "/m/clothing/sub/file",
            "/in/other.ron",
        ] {
            assert!(!t.wants(Path::new(ignored), &outputs), "{ignored}");
        }
        assert_eq!(
            t.folders(),
            BTreeSet::from(["/g", "/m/clothing", "/in"].map(PathBuf::from))
        );
    }

    #[test]
    fn reads_do_not_count_but_writes_renames_and_removals_do() {
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
        assert!(changes_content(&EventKind::Remove(
            notify_debouncer_full::notify::event::RemoveKind::File
        )));
    }
}
