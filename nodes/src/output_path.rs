//! The output-path policy shared by every node that writes files: a relative path stays inside the
//! graph's folder (it may not climb out through `..`) — or, with `--out-dir DIR`, lands in DIR; an
//! absolute path is explicit and taken as written.

use std::path::{Path, PathBuf};

use drape_engine::{NodeContext, NodeError, ParamProblem, Resources};

const OUT_DIR_KEY: &str = "output:dir";

/// Makes relative output paths of every later run on these resources land in `dir` instead of the
/// graph's folder (`--out-dir`).
pub fn set_out_dir(resources: &Resources, dir: PathBuf) {
    let _ = resources.get_or_try_init(OUT_DIR_KEY, || Ok(dir));
}

/// Where the output path parameter `name` of a node points: relative to `--out-dir` when one is
/// set, else to the graph's folder; absolute paths as written.
pub(crate) fn resolve(ctx: &NodeContext<'_>, name: &str) -> Result<PathBuf, NodeError> {
    let written = ctx.params.text(name)?;
    match ctx.resources.get::<PathBuf>(OUT_DIR_KEY) {
        Some(dir) if Path::new(written).is_relative() => Ok(dir.join(written)),
        _ => Ok(ctx.params.path(name)?.to_path_buf()),
    }
}

/// Whether a relative path leaves its base folder through `..` components (taken in order, so
/// `out/../x.png` stays inside and `out/../../x.png` does not). Absolute paths are explicit and
/// never "climb".
pub(crate) fn climbs_out(path: &str) -> bool {
    let path = std::path::Path::new(path);
    if path.is_absolute() {
        return false;
    }
    let mut depth = 0i64;
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// The problem with an output path as written in the graph, if it leaves the graph's folder.
pub(crate) fn outside_problem(path: &str) -> Option<ParamProblem> {
    climbs_out(path).then(|| ParamProblem {
        param: Some("path"),
        message: format!(
            "\"{path}\" writes outside the graph's folder; relative output paths stay inside it \
             (write an absolute path if you really mean another place)"
        ),
    })
}
