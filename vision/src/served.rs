//! Models served over the Open Inference Protocol (the KServe predict protocol v2) by gRPC, as
//! Triton, KServe and Seldon MLServer speak it: a manifest names an [`Endpoint`] instead of a
//! file, crowdtwin sends the pre-processed input tensor and decodes the returned tensors exactly
//! as it decodes its own runtime's.
//!
//! Tensors travel as raw contents (`raw_input_contents`: little-endian, row-major bytes), which
//! servers answer in kind; typed contents in a reply are read too. One call is in flight per
//! model, in the order the pipeline makes them (tick order), so a served model gives the tables
//! an in-process one gives (when the server runs the same runtime build the same way). A call
//! that does not reach the server is retried `retries` times, then fails naming the endpoint;
//! any other failure (a timeout, a broken-off call, an error the server reports) fails at once.

use crate::manifest::Endpoint;
use crate::model::TensorInfo;
use crate::VisionError;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::time::Duration;
use tonic::transport::Channel;
use tonic::Code;

/// The protocol's messages and client, generated from `vision/proto/open_inference_v2.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("inference");
}

use proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use proto::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use proto::{ModelInferRequest, ModelMetadataRequest, ModelReadyRequest, ServerLiveRequest};

/// A model on a server: its declared tensors (from the server's model metadata) and a client.
pub struct ServedModel {
    runtime: tokio::runtime::Runtime,
    client: GrpcInferenceServiceClient<Channel>,
    endpoint: Endpoint,
    /// The declared inputs.
    pub inputs: Vec<TensorInfo>,
    /// The declared outputs.
    pub outputs: Vec<TensorInfo>,
    calls: u64,
}

/// Whether a failed call may be tried again: only when the server was not reached (refused,
/// unavailable). A call that timed out or broke off may have run on the server — a stateful
/// service would see the frame twice — and an error the server reports is its answer.
fn transient(status: &tonic::Status) -> bool {
    status.code() == Code::Unavailable
}

impl ServedModel {
    /// Connects to `endpoint` and reads the model's metadata; `at` (the manifest) is quoted by errors.
    ///
    /// # Errors
    /// No server answers at the address (after the retries), or the server does not have the model
    /// ready.
    pub fn connect(endpoint: &Endpoint, at: &str) -> Result<Self, VisionError> {
        let where_ = describe(endpoint);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| VisionError::Runtime(format!("cannot start the client for {where_}: {e}")))?;
        let timeout = Duration::from_secs_f32(endpoint.timeout_s);
        let channel = tonic::transport::Endpoint::from_shared(endpoint.url.clone())
            .map_err(|e| VisionError::Manifest(format!("{at}: endpoint url {:?}: {e}", endpoint.url)))?
            .connect_timeout(timeout)
            .timeout(timeout);
        // Connected lazily: the first call (below, with its retries) is what reaches the server.
        // The channel's worker is spawned on this model's own runtime.
        let _context = runtime.enter();
        let limit = endpoint.max_message_mib as usize * 1024 * 1024;
        let client = GrpcInferenceServiceClient::new(channel.connect_lazy()).max_decoding_message_size(limit).max_encoding_message_size(limit);
        let mut served = ServedModel { runtime, client, endpoint: endpoint.clone(), inputs: Vec::new(), outputs: Vec::new(), calls: 0 };
        let live = served.call("ServerLive", |mut c| async move { c.server_live(ServerLiveRequest {}).await })?;
        if !live.live {
            return Err(VisionError::Runtime(format!("{where_}: the server says it is not live")));
        }
        let (name, version) = (endpoint.model.clone(), endpoint.version.clone());
        let (n, v) = (name.clone(), version.clone());
        let ready = served.call("ModelReady", move |mut c| {
            let request = ModelReadyRequest { name: n.clone(), version: v.clone() };
            async move { c.model_ready(request).await }
        })?;
        if !ready.ready {
            return Err(VisionError::Runtime(format!("{where_}: the server has no model `{name}` ready")));
        }
        let metadata = served.call("ModelMetadata", move |mut c| {
            let request = ModelMetadataRequest { name: name.clone(), version: version.clone() };
            async move { c.model_metadata(request).await }
        })?;
        let tensors = |list: Vec<proto::model_metadata_response::TensorMetadata>| -> Vec<TensorInfo> {
            list.into_iter().map(|t| TensorInfo { name: t.name, datatype: t.datatype, shape: t.shape }).collect()
        };
        served.inputs = tensors(metadata.inputs);
        served.outputs = tensors(metadata.outputs);
        Ok(served)
    }

    /// One call with the endpoint's timeout and retries.
    fn call<T, F, Fut>(&mut self, method: &str, make: F) -> Result<T, VisionError>
    where
        F: Fn(GrpcInferenceServiceClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut wait = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            let status = match self.runtime.block_on(make(self.client.clone())) {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) => status,
            };
            if !transient(&status) || tries > self.endpoint.retries {
                let how = if transient(&status) { format!("no answer after {tries} tries") } else { "failed".to_string() };
                return Err(VisionError::Inference(format!("{}: {method} {how}: {} ({:?})", describe(&self.endpoint), status.message(), status.code())));
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
    }

    /// Runs the model on float32 inputs (name, tensor) and returns the named outputs, in the order asked.
    ///
    /// # Errors
    /// The call fails (endpoint named), or the reply lacks an output, is not FP32, or holds a
    /// number of values its shape does not.
    pub fn infer(&mut self, inputs: &[(&str, ArrayViewD<f32>)], outputs: &[&str]) -> Result<Vec<ArrayD<f32>>, VisionError> {
        let raw = inputs
            .iter()
            .map(|(name, tensor)| RawTensor {
                name: name.to_string(),
                datatype: "FP32".into(),
                shape: tensor.shape().iter().map(|&d| d as i64).collect(),
                bytes: tensor.iter().flat_map(|v| v.to_le_bytes()).collect(),
            })
            .collect();
        let replies = self.infer_raw(raw, outputs)?;
        let where_ = describe(&self.endpoint);
        replies
            .into_iter()
            .map(|t| {
                if t.datatype != "FP32" {
                    return Err(VisionError::Inference(format!("{where_}: output `{}` is {}, expected FP32", t.name, t.datatype)));
                }
                let values: Vec<f32> = t.bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                let shape: Vec<usize> = t.shape.iter().map(|&d| d.max(0) as usize).collect();
                ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| VisionError::Inference(format!("{where_}: output `{}` of shape {:?}: {e}", t.name, t.shape)))
            })
            .collect()
    }

    /// Runs the model on tensors of any type and returns the named outputs, in the order asked,
    /// as little-endian bytes (typed contents in the reply are converted).
    ///
    /// # Errors
    /// The call fails (endpoint named), or the reply lacks an output or holds a number of bytes
    /// its type and shape do not.
    pub fn infer_raw(&mut self, inputs: Vec<RawTensor>, outputs: &[&str]) -> Result<Vec<RawTensor>, VisionError> {
        self.calls += 1;
        let request = ModelInferRequest {
            model_name: self.endpoint.model.clone(),
            model_version: self.endpoint.version.clone(),
            id: self.calls.to_string(),
            inputs: inputs.iter().map(|t| InferInputTensor { name: t.name.clone(), datatype: t.datatype.clone(), shape: t.shape.clone(), ..Default::default() }).collect(),
            outputs: outputs.iter().map(|name| InferRequestedOutputTensor { name: name.to_string(), ..Default::default() }).collect(),
            raw_input_contents: inputs.into_iter().map(|t| t.bytes).collect(),
            ..Default::default()
        };
        let reply = self.call("ModelInfer", move |mut c| {
            let request = request.clone();
            async move { c.model_infer(request).await }
        })?;
        let where_ = describe(&self.endpoint);
        outputs
            .iter()
            .map(|&name| {
                let index = reply.outputs.iter().position(|o| o.name == name).ok_or_else(|| {
                    let names: Vec<&str> = reply.outputs.iter().map(|o| o.name.as_str()).collect();
                    VisionError::Inference(format!("{where_}: the reply has no output `{name}` (it has {names:?})"))
                })?;
                let tensor = &reply.outputs[index];
                let bytes = match reply.raw_output_contents.get(index) {
                    Some(bytes) => bytes.clone(),
                    None => typed_bytes(tensor.contents.as_ref(), &tensor.datatype),
                };
                let elements = tensor.shape.iter().try_fold(1i64, |n, &d| if d < 0 { None } else { n.checked_mul(d) });
                let width = element_size(&tensor.datatype)
                    .ok_or_else(|| VisionError::Inference(format!("{where_}: output `{name}` is {}, which crowdtwin does not read", tensor.datatype)))?;
                if elements.and_then(|n| n.checked_mul(width as i64)) != Some(bytes.len() as i64) {
                    return Err(VisionError::Inference(format!(
                        "{where_}: output `{name}` ({} {:?}) came with {} bytes",
                        tensor.datatype,
                        tensor.shape,
                        bytes.len()
                    )));
                }
                // A server, unlike the in-process runtime, does not guarantee its declared shapes.
                // Some add or drop unit dimensions (MLServer's NumPy codec answers [1] as [1, 1]):
                // with a fully declared shape and the same element count, the declared one stands.
                let mut shape = tensor.shape.clone();
                if let Some(declared) = self.outputs.iter().find(|t| t.name == name) {
                    let same_count = declared.shape.iter().all(|&d| d >= 0) && declared.shape.iter().product::<i64>() == elements.unwrap_or(-1);
                    if same_count {
                        shape = declared.shape.clone();
                    } else if !crate::model::shape_matches(&declared.shape, &tensor.shape) {
                        return Err(VisionError::Inference(format!(
                            "{where_}: output `{name}` came with shape {:?}, the model declares {:?}",
                            tensor.shape, declared.shape
                        )));
                    }
                }
                Ok(RawTensor { name: name.to_string(), datatype: tensor.datatype.clone(), shape, bytes })
            })
            .collect()
    }
}

/// A tensor as the protocol carries it: element type, shape and little-endian row-major bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// Tensor name.
    pub name: String,
    /// `FP32`, `UINT8`, `INT64` or `BOOL` (one byte each).
    pub datatype: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// The elements.
    pub bytes: Vec<u8>,
}

fn element_size(datatype: &str) -> Option<usize> {
    match datatype {
        "BOOL" | "UINT8" | "INT8" => Some(1),
        "FP32" | "INT32" | "UINT32" => Some(4),
        "INT64" | "UINT64" | "FP64" => Some(8),
        _ => None,
    }
}

/// Typed contents as the raw bytes the same tensor would have had.
fn typed_bytes(contents: Option<&proto::InferTensorContents>, datatype: &str) -> Vec<u8> {
    let Some(c) = contents else { return Vec::new() };
    match datatype {
        "FP32" => c.fp32_contents.iter().flat_map(|v| v.to_le_bytes()).collect(),
        "FP64" => c.fp64_contents.iter().flat_map(|v| v.to_le_bytes()).collect(),
        "BOOL" => c.bool_contents.iter().map(|&b| b as u8).collect(),
        "UINT8" => c.uint_contents.iter().map(|&v| v as u8).collect(),
        "INT8" => c.int_contents.iter().map(|&v| v as u8).collect(),
        "INT32" => c.int_contents.iter().flat_map(|v| v.to_le_bytes()).collect(),
        "UINT32" => c.uint_contents.iter().flat_map(|v| v.to_le_bytes()).collect(),
        "INT64" => c.int64_contents.iter().flat_map(|v| v.to_le_bytes()).collect(),
        "UINT64" => c.uint64_contents.iter().flat_map(|v| v.to_le_bytes()).collect(),
        _ => Vec::new(),
    }
}

/// The endpoint as errors name it: `http://HOST:PORT, model NAME[ version V]`.
pub fn describe(endpoint: &Endpoint) -> String {
    if endpoint.version.is_empty() {
        format!("{} (model `{}`)", endpoint.url, endpoint.model)
    } else {
        format!("{} (model `{}` version {})", endpoint.url, endpoint.model, endpoint.version)
    }
}
