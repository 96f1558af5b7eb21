//! One layer surface of the shell (panel, background or menu) with its size, scale and
//! the buffer it shows.
//!
//! Scale: when the compositor offers `wp_fractional_scale_v1` and `wp_viewporter`, the
//! surface is drawn at the exact preferred scale into a buffer of that many pixels and
//! the viewport maps it back to the logical size; otherwise the integer scale of the
//! output is used through `wl_surface.set_buffer_scale`.

use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shell::wlr_layer::LayerSurface;
use smithay_client_toolkit::shm::slot::{Buffer, SlotPool};
use tiny_skia::{Pixmap, PixmapMut};
use wayland_client::protocol::wl_shm;
use wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::WpFractionalScaleV1;
use wayland_protocols::wp::viewporter::client::wp_viewport::WpViewport;

use crate::layout;
use crate::render::to_argb8888;

/// Which of the shell's surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Panel,
    Background,
    Menu,
}

pub struct ShellSurface {
    pub role: Role,
    pub layer: LayerSurface,
    /// Logical size from the last configure.
    pub size: (u32, u32),
    pub int_scale: i32,
    /// Preferred fractional scale (from `wp_fractional_scale_v1`, in 1/120ths).
    pub fractional: Option<f64>,
    pub viewport: Option<WpViewport>,
    pub fractional_obj: Option<WpFractionalScaleV1>,
    pub configured: bool,
    pub dirty: bool,
    buffer: Option<Buffer>,
}

impl ShellSurface {
    pub fn new(
        role: Role,
        layer: LayerSurface,
        viewport: Option<WpViewport>,
        fractional_obj: Option<WpFractionalScaleV1>,
    ) -> Self {
        Self {
            role,
            layer,
            size: (0, 0),
            int_scale: 1,
            fractional: None,
            viewport,
            fractional_obj,
            configured: false,
            dirty: true,
            buffer: None,
        }
    }

    /// The scale to draw at.
    pub fn scale(&self) -> f64 {
        match (self.fractional, &self.viewport) {
            (Some(f), Some(_)) => f,
            _ => self.int_scale.max(1) as f64,
        }
    }

    /// Draws with `paint` into a fresh buffer and commits it, when the surface is
    /// configured and something changed.
    pub fn redraw(
        &mut self,
        pool: &mut SlotPool,
        paint: impl FnOnce(&mut PixmapMut, (u32, u32), f64),
    ) {
        if !self.configured || !self.dirty || self.size.0 == 0 || self.size.1 == 0 {
            return;
        }
        self.dirty = false;
        let scale = self.scale();
        let (bw, bh) = layout::buffer_size(self.size, scale);
        let Some(mut pixmap) = Pixmap::new(bw, bh) else {
            tracing::warn!(bw, bh, "cannot allocate a pixmap");
            return;
        };
        paint(&mut pixmap.as_mut(), self.size, scale);
        let stride = bw as i32 * 4;
        let (buffer, canvas) =
            match pool.create_buffer(bw as i32, bh as i32, stride, wl_shm::Format::Argb8888) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create a shm buffer");
                    return;
                }
            };
        to_argb8888(pixmap.data(), canvas);
        let surface = self.layer.wl_surface();
        match (&self.viewport, self.fractional) {
            // A whole preferred scale needs no viewport: the plain buffer scale says the
            // same and every compositor implements it.
            (Some(vp), Some(f)) if f.fract() != 0.0 => {
                surface.set_buffer_scale(1);
                vp.set_destination(self.size.0 as i32, self.size.1 as i32);
            }
            (Some(vp), Some(f)) => {
                surface.set_buffer_scale((f as i32).max(1));
                vp.set_destination(-1, -1);
            }
            _ => surface.set_buffer_scale(self.int_scale.max(1)),
        }
        surface.damage_buffer(0, 0, bw as i32, bh as i32);
        if let Err(e) = buffer.attach_to(surface) {
            tracing::warn!(error = ?e, "cannot attach the buffer");
            return;
        }
        self.layer.commit();
        // The previous buffer is released by the compositor once this one is shown; the
        // pool reuses its memory then.
        self.buffer = Some(buffer);
    }
}

impl Drop for ShellSurface {
    fn drop(&mut self) {
        if let Some(f) = self.fractional_obj.take() {
            f.destroy();
        }
        if let Some(v) = self.viewport.take() {
            v.destroy();
        }
    }
}
