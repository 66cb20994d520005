//! Finding the project's files (models, assets, ONNX Runtime) from wherever the program runs.

use std::path::{Path, PathBuf};

/// The first existing `dir/relative` for `dir` among the ancestors of the working directory,
/// then of the executable. Lets `crowdtwin` run from the repository, a subfolder, or its
/// `target/release/` folder alike.
pub fn find_in_ancestors(relative: &Path) -> Option<PathBuf> {
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    starts.into_iter().flatten().find_map(|start| start.ancestors().map(|dir| dir.join(relative)).find(|candidate| candidate.exists()))
}
