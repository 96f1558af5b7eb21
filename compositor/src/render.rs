//! Damage-driven, paced rendering.
//!
//! Nothing renders on a fixed tick: a commit or a layout change calls
//! [`Skerry::schedule_render`], which arms one timer for the next frame slot. A capture
//! request is answered from the image already rendered when that image holds something the
//! client has not seen ([`Skerry::answer_captures`]), so a capture client asking once per
//! frame gets every frame. Slots lie on a
//! fixed grid (`origin + k * interval`) so the rate never drifts below the cap the way a
//! self-re-arming timer does, and a change arriving after a quiet period renders at once.
//! When nothing changes no timer is armed and the process sleeps in `epoll`.

use std::time::{Duration, Instant};

use smithay::{
    backend::renderer::element::{Kind, surface::render_elements_from_surface_tree},
    desktop::{
        PopupManager, layer_map_for_output,
        utils::{
            OutputPresentationFeedback, send_frames_surface_tree,
            take_presentation_feedback_surface_tree,
        },
    },
    reexports::{
        calloop::timer::{TimeoutAction, Timer},
        wayland_protocols::wp::presentation_time::server::wp_presentation_feedback,
        wayland_server::protocol::wl_surface::WlSurface,
    },
    utils::{Logical, Physical, Point, Rectangle},
    wayland::{presentation::Refresh, shell::wlr_layer::Layer},
};

use crate::{backend::SkerryElement, state::Skerry};

/// Frame slots on a fixed grid at the refresh cap.
#[derive(Debug)]
pub(crate) struct FrameClock {
    origin: Instant,
    interval: Duration,
    /// Slot index of the last rendered frame.
    last: Option<u64>,
}

impl FrameClock {
    pub(crate) fn new(fps: u32) -> Self {
        Self {
            origin: Instant::now(),
            interval: Duration::from_secs(1) / fps.max(1),
            last: None,
        }
    }

    fn slot_at(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.origin).as_nanos() / self.interval.as_nanos().max(1))
            as u64
    }

    /// When the next frame may render: now if this slot is still free, else the next slot.
    pub(crate) fn next_deadline(&self, now: Instant) -> Instant {
        let slot = self.slot_at(now);
        match self.last {
            Some(last) if last >= slot => self.slot_start(last + 1),
            _ => now,
        }
    }

    fn slot_start(&self, slot: u64) -> Instant {
        let nanos = self.interval.as_nanos().saturating_mul(u128::from(slot));
        self.origin + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    pub(crate) fn mark_rendered(&mut self, now: Instant) {
        self.last = Some(self.slot_at(now));
    }

    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }
}

impl Skerry {
    /// Something on screen may have changed: render at the next frame slot.
    pub fn schedule_render(&mut self) {
        self.needs_render = true;
        self.arm_render_timer();
    }

    /// Render at the next slot even if nothing changed, and hand the image to the frame
    /// listeners (a capture client is waiting for the current image).
    pub fn request_frame(&mut self) {
        self.force_frame = true;
        self.arm_render_timer();
    }

    /// A capture client asked for a frame the image already rendered can answer (its
    /// session holds damage from earlier renders, or it is the session's first frame): copy
    /// it now. Waiting for the next frame slot would answer a client that asks right after
    /// each render only every other slot, halving the frame rate under continuous motion.
    pub fn answer_captures(&mut self) {
        if !self.backend.has_rendered() {
            // A new mode's image is blank until its first render.
            self.request_frame();
            return;
        }
        let cursor = self.cursor_state();
        let time = self.now();
        let image = self.backend.image();
        crate::handlers::protocols::feed_capture(
            &mut self.protocols,
            &self.output,
            &image,
            &[],
            &cursor,
            time,
        );
    }

    /// Whether a render is due (scheduled or forced and not yet done).
    pub fn render_pending(&self) -> bool {
        self.needs_render || self.force_frame || self.render_timer.is_some()
    }

    /// Whether some frame rendered after the moment `Stats::frames_damaged` was `counter`
    /// changed pixels.
    pub fn damaged_since(&self, counter: u64) -> bool {
        self.stats.frames_damaged > counter
    }

    fn arm_render_timer(&mut self) {
        if self.render_timer.is_some() {
            return;
        }
        let deadline = self.frame_clock.next_deadline(Instant::now());
        let timer = Timer::from_deadline(deadline);
        match self.loop_handle.insert_source(timer, |_, _, state| {
            state.render_timer = None;
            state.render_frame();
            TimeoutAction::Drop
        }) {
            Ok(token) => self.render_timer = Some(token),
            Err(e) => tracing::error!("cannot arm the frame timer: {e}"),
        }
    }

    /// Renders one frame now: draws what changed, feeds the frame listeners, releases frame
    /// callbacks.
    pub fn render_frame(&mut self) {
        if !self.needs_render && !self.force_frame {
            return;
        }
        let now = Instant::now();
        self.frame_clock.mark_rendered(now);
        let forced = std::mem::take(&mut self.force_frame);
        self.needs_render = false;

        let elements = self.render_elements();
        let scale = self.scale();
        let damage = match self.backend.render(&elements, scale) {
            Ok(damage) => damage,
            Err(e) => {
                tracing::error!("render failed: {e}");
                return;
            }
        };
        self.stats.renders += 1;
        if !damage.is_empty() {
            self.stats.frames_damaged += 1;
        }
        if !damage.is_empty() || forced {
            let cursor = self.cursor_state();
            let time = self.now();
            let image = self.backend.image();
            for listener in &mut self.frame_listeners {
                listener.on_frame_rendered(&image, &damage);
            }
            crate::handlers::protocols::feed_capture(
                &mut self.protocols,
                &self.output,
                &image,
                &damage,
                &cursor,
                time,
            );
        }
        self.send_presentation_feedback();
        self.send_frame_callbacks();
        tracing::debug!(stats = ?self.stats, damage = damage.len(), "frame");
        self.write_stats_file();
    }

    /// Every surface drawn (or drawable) on the output, top-most first: overlay and top
    /// layers, X11 override-redirect windows, windows with their popups, bottom and background
    /// layers. The cursor is not included (viewers draw it).
    pub(crate) fn render_elements(&mut self) -> Vec<SkerryElement> {
        let scale = self.scale();
        // Surface trees and, between them, the windows' decorations (drawn below content).
        let mut trees: Vec<(WlSurface, Point<i32, Logical>)> = Vec::new();
        let mut decorations: Vec<(usize, crate::layout::WindowId)> = Vec::new();

        let layers = layer_map_for_output(&self.output);
        let push_layers = |trees: &mut Vec<_>, layer: Layer| {
            for surface in layers.layers_on(layer).rev() {
                if let Some(geo) = layers.layer_geometry(surface) {
                    push_with_popups(trees, surface.wl_surface(), geo.loc, Point::default());
                }
            }
        };
        push_layers(&mut trees, Layer::Overlay);
        push_layers(&mut trees, Layer::Top);
        for or in self.override_redirect.iter().rev() {
            if let Some(surface) = or.surface() {
                let loc = or
                    .window
                    .x11_surface()
                    .map(|x| x.geometry().loc)
                    .unwrap_or_default();
                trees.push((surface, loc));
            }
        }
        for ws in self.layout.visible_top_down() {
            let Some(managed) = self.windows.get(&ws.id) else {
                continue;
            };
            let Some(surface) = managed.surface() else {
                continue;
            };
            let geo_loc = if managed.window.toplevel().is_some() {
                managed.window.geometry().loc
            } else {
                Point::default()
            };
            let content = self.content_rect(ws.id).unwrap_or(ws.rect);
            let loc = Point::from((content.x, content.y)) - geo_loc;
            push_with_popups(&mut trees, &surface, loc, geo_loc);
            decorations.push((trees.len(), ws.id));
        }
        push_layers(&mut trees, Layer::Bottom);
        push_layers(&mut trees, Layer::Background);
        drop(layers);

        let mut elements: Vec<SkerryElement> = self.switcher_element().into_iter().collect();
        let mut next_decoration = decorations.into_iter().peekable();
        for (i, (surface, loc)) in trees.into_iter().enumerate() {
            let physical: Point<i32, Physical> = loc.to_f64().to_physical(scale).to_i32_round();
            let renderer = self.backend.renderer();
            elements.extend(
                render_elements_from_surface_tree(
                    renderer,
                    &surface,
                    physical,
                    scale,
                    1.0,
                    Kind::Unspecified,
                )
                .into_iter()
                .map(SkerryElement::Surface),
            );
            while let Some((_, id)) = next_decoration.next_if(|(after, _)| *after == i + 1) {
                elements.extend(self.decoration_elements(id));
            }
        }
        elements
    }

    /// Tells presentation-time clients their content is on the output (the moment the
    /// offscreen image holds it: there is no scan-out in the headless backend).
    fn send_presentation_feedback(&mut self) {
        let output = self.output.clone();
        let mut feedback = OutputPresentationFeedback::new(&output);
        let mut surfaces: Vec<WlSurface> = self
            .windows
            .values()
            .chain(self.override_redirect.iter())
            .filter_map(crate::state::Managed::surface)
            .collect();
        surfaces.extend(
            layer_map_for_output(&output)
                .layers()
                .map(|l| l.wl_surface().clone()),
        );
        for surface in &surfaces {
            take_presentation_feedback_surface_tree(
                surface,
                &mut feedback,
                |_, _| Some(output.clone()),
                |_, _| wp_presentation_feedback::Kind::empty(),
            );
        }
        self.frame_seq += 1;
        feedback.presented(
            self.clock.now(),
            Refresh::fixed(self.frame_clock.interval()),
            self.frame_seq,
            wp_presentation_feedback::Kind::empty(),
        );
    }

    fn send_frame_callbacks(&mut self) {
        let time = self.now();
        let output = self.output.clone();
        let throttle = Some(self.frame_clock.interval() * 2);
        let mut count = 0u64;
        let mut send = |surface: &WlSurface| {
            count += 1;
            send_frames_surface_tree(surface, &output, time, throttle, |_, _| {
                Some(output.clone())
            });
            for (popup, _) in PopupManager::popups_for_surface(surface) {
                send_frames_surface_tree(popup.wl_surface(), &output, time, throttle, |_, _| {
                    Some(output.clone())
                });
            }
        };
        for managed in self.windows.values().chain(self.override_redirect.iter()) {
            if let Some(surface) = managed.surface() {
                send(&surface);
            }
        }
        for layer in layer_map_for_output(&self.output).layers() {
            send(layer.wl_surface());
        }
        if let smithay::input::pointer::CursorImageStatus::Surface(surface) = &self.cursor_status {
            send(surface);
        }
        self.stats.frame_callbacks += count;
    }
}

fn push_with_popups(
    trees: &mut Vec<(WlSurface, Point<i32, Logical>)>,
    surface: &WlSurface,
    loc: Point<i32, Logical>,
    geometry_loc: Point<i32, Logical>,
) {
    for (popup, offset) in PopupManager::popups_for_surface(surface) {
        let popup_loc = loc + geometry_loc + offset - popup.geometry().loc;
        trees.push((popup.wl_surface().clone(), popup_loc));
    }
    trees.push((surface.clone(), loc));
}

/// A rectangle in output pixels from one in logical coordinates.
pub fn to_physical(rect: Rectangle<i32, Logical>, scale: f64) -> Rectangle<i32, Physical> {
    rect.to_f64().to_physical(scale).to_i32_round()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_paced_on_a_fixed_grid() {
        let mut clock = FrameClock::new(50); // 20 ms slots
        let t0 = clock.origin;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // After a quiet period a change renders at once.
        assert_eq!(clock.next_deadline(at(5)), at(5));
        clock.mark_rendered(at(5));
        // Another change in the same slot waits for the next slot start, not 20 ms later.
        assert_eq!(clock.next_deadline(at(7)), at(20));
        clock.mark_rendered(at(20));
        assert_eq!(clock.next_deadline(at(39)), at(40));
        // Rendering late does not shift the grid.
        clock.mark_rendered(at(47));
        assert_eq!(clock.next_deadline(at(50)), at(60));
        assert_eq!(clock.next_deadline(at(200)), at(200));
    }
}
