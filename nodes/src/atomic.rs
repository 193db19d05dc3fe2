//! Atomic file output: write into a temporary file beside the target, then rename it into place, so a
//! reader never sees a half-written file and a failed write leaves the old file untouched.

use std::io::Write;
use std::path::Path;

use drape_engine::NodeError;

/// Writes `path` through `fill`, atomically; creates the folder when needed.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> Result<(), String>,
) -> Result<(), NodeError> {
    let io_error = |what: &str, e: &dyn std::fmt::Display| {
        NodeError::new(format!("cannot {what} {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error("create the folder of", &e))?;
    let suffix = format!(
        ".{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("out")
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(".drape-").suffix(&suffix);
    // Temporary files are private by default; the output is an ordinary file (the umask applies).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder
        .tempfile_in(dir)
        .map_err(|e| io_error("create a temporary file for", &e))?;
    {
        let mut writer = std::io::BufWriter::new(file.as_file_mut());
        fill(&mut writer).map_err(|e| io_error("encode", &e))?;
        writer.flush().map_err(|e| io_error("write", &e))?;
    }
    file.persist(path)
        .map_err(|e| io_error("write", &e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_readable_like_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomically(&path, |f| f.write_all(b"hello").map_err(|e| e.to_string())).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_ne!(mode & 0o044, 0, "not private to the owner: {mode:o}");
        }
        let failed = write_atomically(&path, |_| Err("no".into()));
        assert!(failed.unwrap_err().message.contains("cannot encode"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"hello",
            "a failed write leaves the old file"
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
