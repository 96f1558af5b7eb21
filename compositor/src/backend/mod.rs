//! The seam between the compositor and what it renders with.
//!
//! One enum, one variant per way of producing frames, so the rest of the compositor never
//! matches on renderer types. Today there is only [`Backend::Headless`]: smithay's pixman CPU
//! renderer drawing into one persistent offscreen image, which is also the image the capture
//! protocols copy from.
//!
//! Room left for later variants, to be added here and nowhere else:
//! - `HeadlessGles`: a `GlesRenderer` on an `EGLDevice` (Mesa's llvmpipe or a real GPU found
//!   through `EGLDevice::enumerate()`), rendering into a GBM/dmabuf offscreen buffer so a GPU
//!   encoder can read frames with no copy;
//! - `Drm`: DRM/KMS scan-out with libinput devices for kiosk machines with a local display.
//!
//! Each variant must offer the same four operations: the renderer for importing client
//! buffers, `resize`, `render` (returning the damage of the new frame) and `image`.

mod headless;

pub use headless::Headless;

use smithay::{
    backend::renderer::{
        element::{
            memory::MemoryRenderBufferRenderElement, solid::SolidColorRenderElement,
            surface::WaylandSurfaceRenderElement,
        },
        pixman::PixmanRenderer,
    },
    render_elements,
    utils::{Physical, Rectangle, Size},
};

use crate::hooks::OutputImage;

render_elements! {
    /// What a frame is made of (top-most first): client surfaces and the compositor's own
    /// decorations (solid bars and borders, rasterised titles).
    pub SkerryElement<=PixmanRenderer>;
    Surface=WaylandSurfaceRenderElement<PixmanRenderer>,
    Solid=SolidColorRenderElement,
    Image=MemoryRenderBufferRenderElement<PixmanRenderer>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("pixman renderer: {0}")]
    Pixman(#[from] smithay::backend::renderer::pixman::PixmanError),
    #[error("rendering the output failed: {0}")]
    Render(String),
}

/// The backends Skerry can run on.
pub enum Backend {
    /// CPU rendering with pixman into an offscreen image.
    Headless(Headless),
}

impl Backend {
    /// A headless backend of `size` output pixels at output `scale`.
    pub fn headless(size: Size<i32, Physical>, scale: f64) -> Result<Self, BackendError> {
        Ok(Self::Headless(Headless::new(size, scale)?))
    }

    pub fn renderer(&mut self) -> &mut PixmanRenderer {
        match self {
            Self::Headless(h) => h.renderer(),
        }
    }

    /// The output changed mode or scale: a new offscreen image, and a full repaint next.
    pub fn resize(&mut self, size: Size<i32, Physical>, scale: f64) -> Result<(), BackendError> {
        match self {
            Self::Headless(h) => h.resize(size, scale),
        }
    }

    /// Renders the elements; returns the damaged rectangles, empty when nothing changed.
    pub fn render(
        &mut self,
        elements: &[SkerryElement],
        scale: f64,
    ) -> Result<Vec<Rectangle<i32, Physical>>, BackendError> {
        match self {
            Self::Headless(h) => h.render(elements, scale),
        }
    }

    /// The last rendered image.
    pub fn image(&self) -> OutputImage<'_> {
        match self {
            Self::Headless(h) => h.image(),
        }
    }

    /// Whether the image holds a render of the current mode (not a blank one just made).
    pub fn has_rendered(&self) -> bool {
        match self {
            Self::Headless(h) => h.has_rendered(),
        }
    }
}
