//! The pointer's image and position, for viewers that draw the cursor themselves.
//!
//! The cursor is never part of the output image: the browser draws it locally so it never
//! lags behind the hand. Capture modules read [`Skerry::cursor_state`] and register
//! `cursor_listeners`; captures that want the cursor in their frames use
//! [`Skerry::render_with_cursor`].

use smithay::{
    backend::renderer::utils::RendererSurfaceStateUserData,
    input::pointer::{CursorImageStatus, CursorImageSurfaceData},
    reexports::wayland_server::protocol::{wl_shm, wl_surface::WlSurface},
    wayland::{compositor::with_states, shm::with_buffer_contents},
};

use crate::{
    hooks::{CursorImage, CursorState, OutputImage},
    state::Skerry,
};

/// Size of the built-in arrow used for named cursors.
const ARROW: u32 = 16;

impl Skerry {
    /// The cursor right now.
    pub fn cursor_state(&self) -> CursorState {
        let scale = self.scale();
        let (x, y) = self
            .seat
            .get_pointer()
            .map(|p| {
                let loc = p.current_location();
                (
                    (loc.x * scale).round() as i32,
                    (loc.y * scale).round() as i32,
                )
            })
            .unwrap_or_default();
        let image = match &self.cursor_status {
            CursorImageStatus::Hidden => None,
            CursorImageStatus::Named(_) => Some(arrow()),
            CursorImageStatus::Surface(surface) => surface_image(surface).or_else(|| Some(arrow())),
        };
        let name = match &self.cursor_status {
            CursorImageStatus::Named(icon) => Some(icon.name()),
            _ => None,
        };
        CursorState {
            serial: self.cursor_serial,
            image,
            name,
            x,
            y,
        }
    }

    /// A client set a new cursor image.
    pub(crate) fn cursor_image_changed(&mut self, status: CursorImageStatus) {
        self.cursor_status = status;
        self.cursor_serial = self.cursor_serial.wrapping_add(1);
        self.notify_cursor();
    }

    pub(crate) fn cursor_moved(&mut self) {
        self.notify_cursor();
    }

    fn notify_cursor(&mut self) {
        self.capture_cursor_changed();
        if self.cursor_listeners.is_empty() {
            return;
        }
        let state = self.cursor_state();
        for listener in &mut self.cursor_listeners {
            listener(&state);
        }
    }

    /// A copy of `image` with the cursor blended on top, for captures that ask for it.
    pub fn render_with_cursor(&self, image: &OutputImage<'_>) -> Vec<u8> {
        let mut out = image.bytes.to_vec();
        let cursor = self.cursor_state();
        if let Some(c) = cursor.image {
            blend_cursor(
                &mut out,
                image,
                &c,
                cursor.x - c.hotspot_x,
                cursor.y - c.hotspot_y,
            );
        }
        out
    }
}

/// Blends straight RGBA `cursor` onto B,G,R,A `out` (laid out like `image`) at (x0, y0).
pub fn blend_cursor(
    out: &mut [u8],
    image: &OutputImage<'_>,
    cursor: &CursorImage,
    x0: i32,
    y0: i32,
) {
    for cy in 0..cursor.height as i32 {
        let y = y0 + cy;
        if y < 0 || y >= image.height as i32 {
            continue;
        }
        for cx in 0..cursor.width as i32 {
            let x = x0 + cx;
            if x < 0 || x >= image.width as i32 {
                continue;
            }
            let src = ((cy as u32 * cursor.width + cx as u32) * 4) as usize;
            let dst = (y as u32 * image.stride + x as u32 * 4) as usize;
            let (Some(s), Some(d)) = (cursor.rgba.get(src..src + 4), out.get_mut(dst..dst + 4))
            else {
                continue;
            };
            let a = u32::from(s[3]);
            for (di, si) in [(0usize, 2usize), (1, 1), (2, 0)] {
                d[di] = ((u32::from(s[si]) * a + u32::from(d[di]) * (255 - a)) / 255) as u8;
            }
        }
    }
}

/// A plain white arrow with a black outline, hotspot at its tip.
fn arrow() -> CursorImage {
    let mut rgba = vec![0u8; (ARROW * ARROW * 4) as usize];
    for y in 0..ARROW {
        for x in 0..=y.min(ARROW - 1) {
            if x > y * 2 / 3 + 1 && y < ARROW - 4 {
                continue;
            }
            let edge = x == 0 || x == y || y == ARROW - 1;
            let i = ((y * ARROW + x) * 4) as usize;
            let v = if edge { 0 } else { 255 };
            rgba[i..i + 4].copy_from_slice(&[v, v, v, 255]);
        }
    }
    CursorImage {
        width: ARROW,
        height: ARROW,
        hotspot_x: 0,
        hotspot_y: 0,
        rgba,
    }
}

/// Reads a client's cursor surface (shm, argb/xrgb) into straight RGBA.
fn surface_image(surface: &WlSurface) -> Option<CursorImage> {
    with_states(surface, |states| {
        let hotspot = states
            .data_map
            .get::<CursorImageSurfaceData>()
            .and_then(|d| d.lock().ok().map(|a| a.hotspot))
            .unwrap_or_default();
        let data = states.data_map.get::<RendererSurfaceStateUserData>()?;
        let data = data.lock().ok()?;
        let buffer = data.buffer()?;
        with_buffer_contents(buffer, |ptr, len, info| {
            let (w, h, stride) = (
                info.width.max(0) as usize,
                info.height.max(0) as usize,
                info.stride.max(0) as usize,
            );
            let offset = info.offset.max(0) as usize;
            if offset + stride * h > len || stride < w * 4 {
                return None;
            }
            let opaque = info.format == wl_shm::Format::Xrgb8888;
            if !opaque && info.format != wl_shm::Format::Argb8888 {
                return None;
            }
            // SAFETY: smithay maps the pool for the duration of this closure and checked
            // `len`; the range was bounds-checked above.
            let bytes = unsafe { std::slice::from_raw_parts(ptr.add(offset), stride * h) };
            let mut rgba = Vec::with_capacity(w * h * 4);
            for row in bytes.chunks(stride).take(h) {
                for px in row[..w * 4].chunks_exact(4) {
                    let a = if opaque { 255 } else { px[3] };
                    // Un-premultiply.
                    let un = |c: u8| {
                        if a == 0 {
                            0
                        } else {
                            ((u32::from(c) * 255) / u32::from(a)).min(255) as u8
                        }
                    };
                    rgba.extend_from_slice(&[un(px[2]), un(px[1]), un(px[0]), a]);
                }
            }
            Some(CursorImage {
                width: w as u32,
                height: h as u32,
                hotspot_x: hotspot.x,
                hotspot_y: hotspot.y,
                rgba,
            })
        })
        .ok()
        .flatten()
    })
}
