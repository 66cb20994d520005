//! Loading ONNX Runtime.
//!
//! `ort` is built with `load-dynamic`: the library is the `libonnxruntime.so` shipped in the
//! PyPI `onnxruntime` wheel, which `make setup` unpacks into `.ort/`. It is found through
//! `ORT_DYLIB_PATH`, else in the nearest `.ort/` above the working directory or the executable.
//! A missing library is an error that says to run `make setup`, never a panic.

use crate::VisionError;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library file name inside `.ort/`.
pub const LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";

/// Where the library is expected.
pub fn library_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(path);
    }
    let relative = Path::new(".ort").join(LIBRARY_NAME);
    crowdtwin_core::paths::find_in_ancestors(&relative).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative))
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loaded on first use.
pub fn environment() -> Result<ort::environment::Environment, VisionError> {
    ENVIRONMENT
        .get_or_init(|| {
            let path = library_path();
            if !path.is_file() {
                return Err(format!("ONNX Runtime not found at {}: run `make setup` (or set ORT_DYLIB_PATH)", path.display()));
            }
            ort::init_from(&path)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}; run `make setup`", path.display()))?
                .with_name("crowdtwin")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .clone()
        .map_err(VisionError::Runtime)
}
