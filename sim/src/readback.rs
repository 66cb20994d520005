//! Copies rendered images from the GPU to CPU memory, right after the `update()` that drew them.
//!
//! With pipelined rendering disabled, `update()` returns only once the frame is rendered, so
//! the texture holds exactly this tick's frame (Bevy's `Readback` component would deliver it
//! two updates later).

use bevy::asset::Handle;
use bevy::image::Image;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    Buffer, BufferDescriptor, BufferUsages, CommandEncoderDescriptor, MapMode, PollType, TexelCopyBufferInfo, TexelCopyBufferLayout,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::texture::GpuImage;
use bevy::render::RenderApp;
use bevy::app::App;
use std::collections::HashMap;

/// Reusable staging buffers, one per image.
#[derive(Default)]
pub struct Readback {
    buffers: HashMap<Handle<Image>, Buffer>,
}

impl Readback {
    /// The RGBA8 bytes (rows tightly packed) of `image` as last rendered.
    pub fn read(&mut self, app: &App, image: &Handle<Image>, width: u32, height: u32) -> Result<Vec<u8>, String> {
        let world = app.sub_app(RenderApp).world();
        let device = world.resource::<RenderDevice>();
        let queue = world.resource::<RenderQueue>();
        let gpu_images = world.resource::<RenderAssets<GpuImage>>();
        let gpu_image = gpu_images.get(image).ok_or("the render target is not on the GPU yet")?;
        let row_bytes = width as usize * 4;
        let padded_row_bytes = RenderDevice::align_copy_bytes_per_row(row_bytes);
        let buffer = self.buffers.entry(image.clone()).or_insert_with(|| {
            device.create_buffer(&BufferDescriptor {
                label: Some("crowdtwin readback"),
                size: (padded_row_bytes * height as usize) as u64,
                usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        let mut encoder = device.create_command_encoder(&CommandEncoderDescriptor { label: Some("crowdtwin readback") });
        encoder.copy_texture_to_buffer(
            gpu_image.texture.as_image_copy(),
            TexelCopyBufferInfo {
                buffer,
                layout: TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded_row_bytes as u32),
                    rows_per_image: None,
                },
            },
            gpu_image.texture_descriptor.size,
        );
        queue.submit(std::iter::once(encoder.finish()));
        let slice = buffer.slice(..);
        let (sender, receiver) = std::sync::mpsc::channel();
        slice.map_async(MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        device.poll(PollType::wait_indefinitely()).map_err(|e| format!("GPU poll failed: {e}"))?;
        receiver
            .recv()
            .map_err(|_| "the GPU never answered the readback".to_string())?
            .map_err(|e| format!("mapping the readback buffer failed: {e}"))?;
        let mut pixels = Vec::with_capacity(row_bytes * height as usize);
        {
            let mapped = slice.get_mapped_range();
            for row in mapped.chunks(padded_row_bytes).take(height as usize) {
                pixels.extend_from_slice(&row[..row_bytes]);
            }
        }
        buffer.unmap();
        Ok(pixels)
    }
}
