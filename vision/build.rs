//! Generates the Open Inference Protocol client (`vision/proto`) with protox, a pure-Rust
//! protobuf compiler, so building needs no `protoc`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/open_inference_v2.proto");
    let descriptors = protox::compile(["open_inference_v2.proto"], ["proto"])?;
    tonic_prost_build::configure().build_server(false).build_transport(false).compile_fds(descriptors)?;
    Ok(())
}
