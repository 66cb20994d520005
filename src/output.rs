//! A run's output folder: checked before a run starts, assembled in a staging folder beside
//! it, and swapped into place only when complete, so `--out` never holds half a run.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Files whose presence marks a folder as a crowdtwin run (so `--out` never replaces anything else).
pub const RUN_MARKERS: [&str; 2] = ["summary.json", "runs.parquet"];

/// Whether `dir` holds a crowdtwin run.
pub fn is_run(dir: &Path) -> bool {
    RUN_MARKERS.iter().all(|m| dir.join(m).is_file())
}

/// Checks `out` can take a run: it names a folder, and if it exists it is empty or a previous run.
///
/// # Errors
/// A path that names no folder, a file, or a folder that is neither empty nor a run.
pub fn check_output_dir(out: &Path) -> anyhow::Result<()> {
    check_replaceable(out, &Kind::RUN)
}

/// What an output folder holds, so that only one of its own kind is ever replaced.
pub struct Kind {
    /// Names the kind in errors, with what marks it ("a crowdtwin run (no summary.json and runs.parquet)").
    pub what: &'static str,
    /// Whether a folder holds one.
    pub is: fn(&Path) -> bool,
}

impl Kind {
    /// A run's output folder.
    pub const RUN: Kind = Kind { what: "a crowdtwin run (no summary.json and runs.parquet)", is: is_run };
}

/// Checks `out` can take an output of `kind`: it names a folder, and if it exists it is empty
/// or holds one of that kind.
///
/// # Errors
/// A path that names no folder, a file, or a folder that is neither empty nor of that kind.
pub fn check_replaceable(out: &Path, kind: &Kind) -> anyhow::Result<()> {
    let name = out.file_name().and_then(|n| n.to_str()).filter(|n| !n.is_empty() && *n != "." && *n != "..");
    anyhow::ensure!(name.is_some(), "--out {} must name a folder (not `.`, `..` or a root)", out.display());
    if out.exists() {
        anyhow::ensure!(out.is_dir(), "--out {} exists and is not a folder", out.display());
        let is_empty = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
        anyhow::ensure!((kind.is)(out) || is_empty, "--out {} exists and is not {}; refusing to replace it", out.display(), kind.what);
    }
    Ok(())
}

/// The empty staging folder beside `out` where a run is assembled.
///
/// # Errors
/// A stale staging folder that cannot be removed, or one that cannot be made.
pub fn fresh_staging(out: &Path) -> anyhow::Result<PathBuf> {
    let staging = sibling(out, "partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing a stale {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    Ok(staging)
}

/// Moves a complete staging folder into `out` (the old run moved aside first, removed last).
///
/// # Errors
/// `out` is no longer a run folder, or a rename fails (the previous run is then put back).
pub fn publish(staging: &Path, out: &Path) -> anyhow::Result<()> {
    publish_as(staging, out, &Kind::RUN)
}

/// [`publish`] for an output of `kind`.
///
/// # Errors
/// `out` no longer holds one of that kind, or a rename fails (the previous one is then put back).
pub fn publish_as(staging: &Path, out: &Path, kind: &Kind) -> anyhow::Result<()> {
    check_replaceable(out, kind)?;
    let previous = sibling(out, "previous");
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| format!("removing {}", previous.display()))?;
    }
    if out.exists() {
        std::fs::rename(out, &previous).with_context(|| format!("moving the previous output {} aside", out.display()))?;
    }
    if let Err(error) = std::fs::rename(staging, out) {
        // Put the previous run back: a failed publish leaves `out` as it was.
        if previous.exists() {
            let _ = std::fs::rename(&previous, out);
        }
        return Err(error).with_context(|| format!("moving the new output into {}", out.display()));
    }
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| format!("removing the previous output at {}", previous.display()))?;
    }
    Ok(())
}

/// `.NAME.SUFFIX` beside `out`.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    out.with_file_name(format!(".{name}.{suffix}"))
}
