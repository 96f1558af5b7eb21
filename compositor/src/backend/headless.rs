//! Headless CPU rendering: pixman into one persistent offscreen image.
//!
//! The image persists across frames so only damaged regions are redrawn: the first frame
//! after (re)creating it is rendered with buffer age 0 (full repaint), every later one with
//! age 1 (the image holds exactly the previous frame).

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{Bind, Offscreen, damage::OutputDamageTracker, pixman::PixmanRenderer},
    },
    reexports::pixman::Image,
    utils::{Physical, Rectangle, Size, Transform},
};

use super::{BackendError, SkerryElement};
use crate::hooks::OutputImage;

/// Clear colour behind all windows (a calm dark blue-grey, opaque).
const BACKGROUND: [f32; 4] = [0.13, 0.15, 0.18, 1.0];

pub struct Headless {
    renderer: PixmanRenderer,
    image: Image<'static, 'static>,
    damage_tracker: OutputDamageTracker,
    size: Size<i32, Physical>,
    /// 0 until the image holds a complete frame.
    age: usize,
}

impl Headless {
    /// The damage tracker sizes every element at `scale` (a surface's logical size times
    /// the scale), so it must carry the output's scale from the first frame on.
    pub fn new(size: Size<i32, Physical>, scale: f64) -> Result<Self, BackendError> {
        let mut renderer = PixmanRenderer::new()?;
        let image = renderer.create_buffer(Fourcc::Argb8888, (size.w, size.h).into())?;
        Ok(Self {
            renderer,
            image,
            damage_tracker: OutputDamageTracker::new(size, scale, Transform::Normal),
            size,
            age: 0,
        })
    }

    pub fn renderer(&mut self) -> &mut PixmanRenderer {
        &mut self.renderer
    }

    pub fn resize(&mut self, size: Size<i32, Physical>, scale: f64) -> Result<(), BackendError> {
        if size != self.size {
            self.image = self
                .renderer
                .create_buffer(Fourcc::Argb8888, (size.w, size.h).into())?;
            self.size = size;
        }
        self.damage_tracker = OutputDamageTracker::new(size, scale, Transform::Normal);
        self.age = 0;
        Ok(())
    }

    pub fn render(
        &mut self,
        elements: &[SkerryElement],
        scale: f64,
    ) -> Result<Vec<Rectangle<i32, Physical>>, BackendError> {
        let _ = scale; // the tracker carries the scale it was created with
        let damage = {
            let mut target = self.renderer.bind(&mut self.image)?;
            let result = self
                .damage_tracker
                .render_output(
                    &mut self.renderer,
                    &mut target,
                    self.age,
                    elements,
                    BACKGROUND,
                )
                .map_err(|e| BackendError::Render(format!("{e:?}")))?;
            result.damage.cloned().unwrap_or_default()
            // The binding is dropped here, before anyone reads the image.
        };
        self.age = 1;
        Ok(damage)
    }

    /// Whether the image was rendered since it was (re)created.
    pub fn has_rendered(&self) -> bool {
        self.age > 0
    }

    pub fn image(&self) -> OutputImage<'_> {
        let stride = self.image.stride();
        let height = self.image.height();
        // SAFETY: pixman owns the image's pixel buffer of `stride * height` bytes for as long
        // as `self.image` lives, which the returned borrow of `self` guarantees; rendering
        // needs `&mut self`, so nothing writes to it while this slice exists.
        let bytes =
            unsafe { std::slice::from_raw_parts(self.image.data() as *const u8, stride * height) };
        OutputImage {
            width: self.image.width() as u32,
            height: height as u32,
            stride: stride as u32,
            bytes,
        }
    }
}
