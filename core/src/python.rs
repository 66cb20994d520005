//! The project's Python environment (`.venv/`, built by `make setup` from
//! `python/requirements.txt`): the real external readers and peers that tests and benches
//! check crowdtwin against — pyarrow, pandas, DuckDB, Fairlearn, ONNX Runtime, JuPedSim …

use crate::paths::find_in_ancestors;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file `make setup` writes last into the environment: its presence marks it complete.
const STAMP: &str = ".venv/.crowdtwin-requirements.sha256";

/// The environment's interpreter.
///
/// # Errors
/// One line naming `make setup` when the environment is missing, was left incomplete, or was
/// built from another `python/requirements.txt` than the one beside it now.
pub fn interpreter() -> Result<PathBuf, String> {
    let missing = || "the project's Python environment (.venv/) is missing or incomplete: run `make setup`".to_string();
    let stamp = find_in_ancestors(Path::new(STAMP)).ok_or_else(missing)?;
    let venv = stamp.parent().ok_or_else(missing)?;
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Err(missing());
    }
    let requirements = venv.parent().map(|root| root.join("python").join("requirements.txt"));
    if let Some(bytes) = requirements.and_then(|path| std::fs::read(path).ok()) {
        let want: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        let built = std::fs::read_to_string(&stamp).unwrap_or_default();
        if built.trim() != want {
            return Err("the project's Python environment (.venv/) was built from other requirements than python/requirements.txt: run `make setup`".to_string());
        }
    }
    Ok(python)
}

/// Runs `code` (a Python program) with `args`, feeding `input` on its standard input, and
/// returns what it printed.
///
/// # Errors
/// A missing environment (naming `make setup`), or the program's failure with its standard error.
pub fn run(code: &str, args: &[&str], input: &str) -> Result<String, String> {
    let mut child = Command::new(interpreter()?)
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the project's Python: {e}"))?;
    child.stdin.take().ok_or("no stdin")?.write_all(input.as_bytes()).map_err(|e| format!("writing to Python: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("waiting for Python: {e}"))?;
    if !out.status.success() {
        return Err(format!("the Python program failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("Python printed non-UTF-8: {e}"))
}
