//! Atomic file output, shared by every writer in drape: write into a temporary file beside the target,
//! then rename it into place, so a reader never sees a half-written file and a failed write leaves the
//! old file untouched.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes `path` through `fill`, atomically, creating its folder when needed. The file gets ordinary
/// permissions (the umask applies), not the private ones of a temporary file.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&mut File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let suffix = format!(
        ".{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("out")
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(".drape-").suffix(&suffix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(dir)?;
    {
        let mut writer = BufWriter::new(file.as_file_mut());
        fill(&mut writer)?;
        writer.flush()?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_readable_like_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomically(&path, |f| f.write_all(b"hello")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_ne!(mode & 0o044, 0, "not private to the owner: {mode:o}");
        }
        let failed = write_atomically(&path, |_| Err(std::io::Error::other("no")));
        assert_eq!(failed.unwrap_err().to_string(), "no");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"hello",
            "a failed write leaves the old file"
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file is left behind"
        );
    }
}
