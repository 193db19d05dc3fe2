//! Atomic output for nodes: the engine's [`drape_engine::write_atomically`], with a failure reported as
//! a node error that names the file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use drape_engine::NodeError;

/// Writes `path` through `fill` (which reports its own failures as text), atomically.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&mut File>) -> Result<(), String>,
) -> Result<(), NodeError> {
    drape_engine::write_atomically(path, |file| fill(file).map_err(std::io::Error::other))
        .map_err(|e| NodeError::new(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_names_the_file_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        let failed = write_atomically(&path, |_| Err("the encoder gave up".into())).unwrap_err();
        assert_eq!(
            failed.message,
            format!("cannot write {}: the encoder gave up", path.display())
        );
        assert!(!path.exists());
    }
}
