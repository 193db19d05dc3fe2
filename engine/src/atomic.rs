//! Atomic file output, shared by every writer in drape: write into a temporary file beside the target,
//! then rename it into place, so a reader never sees a half-written file and a failed write leaves the
//! old file untouched. Temporary files a killed run left behind are removed the next time drape
//! writes into their folder.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Prefix and suffix of drape's temporary files (`.drape-PID-XXXXXX.png.tmp`, PID the writer's).
const TEMP_PREFIX: &str = ".drape-";
const TEMP_SUFFIX: &str = ".tmp";

/// A temporary file of drape's naming untouched for this long belongs to no running write.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Folders already cleaned by this process.
static CLEANED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Removes drape's own temporary files older than [`STALE_AFTER`], or whose writer is gone, from
/// `dir`, once per process and folder. Other files are never touched; failures are ignored (cleaning is a courtesy).
fn remove_stale_temporaries(dir: &Path) {
    let mut cleaned = CLEANED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !cleaned
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_path_buf())
    {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > STALE_AFTER);
        let stale = old || writer_is_gone(&name);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// True when the temporary file `name` (`.drape-PID-…`) was made by a process that no longer runs
/// (a killed run), where the system says so.
fn writer_is_gone(name: &str) -> bool {
    let pid = name[TEMP_PREFIX.len()..]
        .split_once('-')
        .and_then(|(pid, _)| pid.parse::<u32>().ok());
    let proc = Path::new("/proc");
    match pid {
        Some(pid) if cfg!(target_os = "linux") && proc.is_dir() => {
            !proc.join(pid.to_string()).exists()
        }
        _ => false,
    }
}

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
    remove_stale_temporaries(dir);
    let suffix = format!(
        ".{}{TEMP_SUFFIX}",
        path.extension().and_then(|e| e.to_str()).unwrap_or("out")
    );
    let mut builder = tempfile::Builder::new();
    let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
    builder.prefix(&prefix).suffix(&suffix);
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

    #[test]
    fn temporaries_a_killed_run_left_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let make = |name: &str, modified: SystemTime| {
            let path = dir.path().join(name);
            let file = File::create(&path).unwrap();
            file.set_modified(modified).unwrap();
            path
        };
        let stale = make(".drape-abc123.png.tmp", old);
        let in_flight = make(".drape-def456.png.tmp", SystemTime::now());
        let ours = format!(".drape-{}-ghi789.png.tmp", std::process::id());
        let running_writer = make(&ours, SystemTime::now());
        // PID 4194304 is above Linux's largest: no such process runs.
        let killed_writer = make(".drape-4194304-jkl012.png.tmp", SystemTime::now());
        let someone_elses = make("notes.tmp", old);
        write_atomically(&dir.path().join("out.png"), |f| f.write_all(b"x")).unwrap();
        assert!(!stale.exists(), "a stale temporary is removed");
        assert!(
            in_flight.exists() && running_writer.exists(),
            "a recent one may belong to a running write"
        );
        assert_eq!(
            killed_writer.exists(),
            !Path::new("/proc").is_dir(),
            "one whose writer is gone is removed where the system tells"
        );
        assert!(someone_elses.exists(), "only drape's own naming is touched");
    }
}
