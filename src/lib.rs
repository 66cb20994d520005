//! crowdtwin: a digital-twin testbed for privacy-preserving AI video surveillance.
//!
//! The binary is a thin CLI over this library; [`pipeline::run`] is the driver whose loop
//! reads top-down as a frame's whole path: simulate → render → mask → score → record.

pub mod bench;
pub mod crowd;
pub mod dataset;
pub mod eval;
pub mod pipeline;
pub mod place;
pub mod recorder;

use std::path::{Path, PathBuf};

/// Resolves a project file (e.g. `models/nanodet.ron`): as given when it exists, else the
/// nearest one above the working directory or the executable, else beside the sources.
pub fn project_file(relative: &Path) -> PathBuf {
    if relative.exists() || relative.is_absolute() {
        return relative.to_path_buf();
    }
    crowdtwin_core::paths::find_in_ancestors(relative).unwrap_or_else(|| {
        let beside_sources = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        if beside_sources.exists() { beside_sources } else { relative.to_path_buf() }
    })
}
