//! A model the pipeline calls: its declared tensors and one call, `run`, whatever runs it — ONNX
//! Runtime in-process, or a server over the Open Inference Protocol ([`crate::served`]). Every
//! decoder (detector, silhouette refiner, anomaly scorer, feature extractor, temporal head)
//! talks to a [`Model`], never to a runtime directly, so the same tensor checks and decoding
//! apply however the model is served.

use crate::manifest::{Endpoint, ModelManifest};
use crate::runtime::environment;
use crate::served::ServedModel;
use crate::VisionError;
use ndarray::{ArrayD, ArrayViewD};
use ort::session::Session;
use ort::value::TensorRef;
use std::path::Path;

/// A tensor a model declares: its name, element type and shape (−1 for a free dimension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Element type as the Open Inference Protocol names it (`FP32`, `UINT8`, `INT64`, `BOOL`, …).
    pub datatype: String,
    /// Declared shape; −1 marks a dimension the model leaves free.
    pub shape: Vec<i64>,
}

/// A loaded model.
pub struct Model {
    backend: Backend,
    /// sha256 of the ONNX file, as verified at load; for a served model `served:URL/MODEL`
    /// ([`ModelManifest::source`]).
    pub sha256: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    /// Where errors say the model was declared (its manifest).
    at: String,
}

/// Whether a declared shape (−1 for a free dimension) accepts `expected`.
pub fn shape_matches(declared: &[i64], expected: &[i64]) -> bool {
    declared.len() == expected.len() && declared.iter().zip(expected).all(|(&d, &e)| d == e || d < 0)
}

fn info(outlet: &ort::value::Outlet) -> TensorInfo {
    use ort::value::TensorElementType as T;
    let datatype = match outlet.dtype().tensor_type() {
        Some(T::Float32) => "FP32",
        Some(T::Uint8) => "UINT8",
        Some(T::Int64) => "INT64",
        Some(T::Bool) => "BOOL",
        _ => "OTHER",
    };
    TensorInfo { name: outlet.name().to_string(), datatype: datatype.into(), shape: outlet.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default() }
}

enum Backend {
    InProcess(Box<Session>),
    Served(Box<ServedModel>),
}

impl Model {
    /// The model a manifest names: its file (hash checked) run in-process, or its endpoint.
    ///
    /// # Errors
    /// As [`Model::open`], or, for an endpoint, as [`ServedModel::connect`].
    pub fn load(manifest: &ModelManifest, manifest_path: &Path, threads: usize) -> Result<Self, VisionError> {
        Model::open_either(&manifest.model_path(manifest_path), &manifest.sha256, manifest.endpoint.as_ref(), manifest_path, manifest.threads.unwrap_or(threads))
    }

    /// The file `file` (hash checked), or the model at `endpoint` when there is one; `manifest`
    /// names where either was declared.
    ///
    /// # Errors
    /// As [`Model::open`], or, for an endpoint, as [`ServedModel::connect`].
    pub fn open_either(file: &Path, sha256: &str, endpoint: Option<&Endpoint>, manifest: &Path, threads: usize) -> Result<Self, VisionError> {
        let Some(endpoint) = endpoint else { return Model::open(file, sha256, manifest, threads) };
        let at = manifest.display().to_string();
        let served = ServedModel::connect(endpoint, &at)?;
        let (inputs, outputs) = (served.inputs.clone(), served.outputs.clone());
        Ok(Model { backend: Backend::Served(Box::new(served)), sha256: endpoint.source(), inputs, outputs, at })
    }

    /// Opens the ONNX file `file` after checking it against `sha256` (lower-case hex).
    /// `manifest` is the manifest that names it, quoted by every error.
    ///
    /// # Errors
    /// The file cannot be read, its hash differs, or ONNX Runtime cannot load it.
    pub fn open(file: &Path, sha256: &str, manifest: &Path, threads: usize) -> Result<Self, VisionError> {
        let actual = crate::manifest::sha256_file(file).map_err(|e| VisionError::Manifest(format!("{}: cannot read the model: {e}", file.display())))?;
        if actual != sha256 {
            return Err(VisionError::Mismatch(format!(
                "{}: sha256 is {actual}, the manifest {} expects {sha256}",
                file.display(),
                manifest.display()
            )));
        }
        let environment = environment()?;
        let session = Session::builder(&environment)
            .and_then(|b| Ok(b.with_intra_threads(threads.max(1))?))
            .and_then(|b| Ok(b.with_inter_threads(1)?))
            .and_then(|mut b| b.commit_from_file(file))
            .map_err(|e| VisionError::Mismatch(format!("{}: ONNX Runtime cannot load it: {e}", file.display())))?;
        let inputs = session.inputs().iter().map(info).collect();
        let outputs = session.outputs().iter().map(info).collect();
        Ok(Model { backend: Backend::InProcess(Box::new(session)), sha256: actual, inputs, outputs, at: manifest.display().to_string() })
    }

    /// The declared shape of input `name`.
    ///
    /// # Errors
    /// The model has no such input (the error lists the ones it has), or it is not float32.
    pub fn input_shape(&self, name: &str) -> Result<&[i64], VisionError> {
        let tensor = find(&self.inputs, name, "input", &self.at)?;
        float32(tensor, "input", &self.at)?;
        Ok(&tensor.shape)
    }

    /// The declared shape of output `name`.
    ///
    /// # Errors
    /// The model has no such output (the error lists the ones it has), or it is not float32.
    pub fn output_shape(&self, name: &str) -> Result<&[i64], VisionError> {
        let tensor = find(&self.outputs, name, "output", &self.at)?;
        float32(tensor, "output", &self.at)?;
        Ok(&tensor.shape)
    }

    /// Checks that input `name` accepts a tensor of shape `expected`.
    ///
    /// # Errors
    /// No such input, or a shape that differs (both shapes named).
    pub fn check_input(&self, name: &str, expected: &[i64]) -> Result<(), VisionError> {
        let declared = self.input_shape(name)?;
        if shape_matches(declared, expected) {
            Ok(())
        } else {
            Err(VisionError::Mismatch(format!("{}: input `{name}` expected shape {expected:?}, the model's is {declared:?}", self.at)))
        }
    }

    /// Runs the model on one float32 input and returns the named outputs, in the order asked.
    ///
    /// # Errors
    /// The runtime fails, or an output is missing or not float32.
    pub fn run(&mut self, input: &str, tensor: ArrayViewD<f32>, outputs: &[&str]) -> Result<Vec<ArrayD<f32>>, VisionError> {
        self.run_inputs(&[(input, tensor)], outputs)
    }

    /// Runs the model on several float32 inputs (name, tensor) and returns the named outputs,
    /// in the order asked.
    ///
    /// # Errors
    /// The runtime fails, or an output is missing or not float32.
    pub fn run_inputs(&mut self, inputs: &[(&str, ArrayViewD<f32>)], outputs: &[&str]) -> Result<Vec<ArrayD<f32>>, VisionError> {
        let session = match &mut self.backend {
            Backend::InProcess(session) => session,
            Backend::Served(served) => return served.infer(inputs, outputs),
        };
        let failed = |e: ort::Error| VisionError::Inference(e.to_string());
        let mut values = Vec::with_capacity(inputs.len());
        for (name, tensor) in inputs {
            values.push((std::borrow::Cow::Borrowed(*name), ort::session::SessionInputValue::from(TensorRef::from_array_view(tensor.view()).map_err(failed)?)));
        }
        let results = session.run(values).map_err(failed)?;
        outputs
            .iter()
            .map(|&name| {
                let value = results.get(name).ok_or_else(|| VisionError::Inference(format!("{}: the model returned no output `{name}`", self.at)))?;
                Ok(value.try_extract_array::<f32>().map_err(failed)?.to_owned())
            })
            .collect()
    }
}

/// Every tensor a decoder exchanges is float32.
fn float32(tensor: &TensorInfo, kind: &str, at: &str) -> Result<(), VisionError> {
    if tensor.datatype == "FP32" {
        Ok(())
    } else {
        Err(VisionError::Mismatch(format!("{at}: {kind} `{}` is {}, crowdtwin exchanges FP32 {:?}", tensor.name, tensor.datatype, tensor.shape)))
    }
}

fn find<'a>(tensors: &'a [TensorInfo], name: &str, kind: &str, at: &str) -> Result<&'a TensorInfo, VisionError> {
    tensors.iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        VisionError::Mismatch(format!("{at}: the model has no {kind} `{name}` (it has {names:?})"))
    })
}
