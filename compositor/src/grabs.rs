//! Interactive move and resize, started by a client (xdg_toplevel.move / resize) while a
//! pointer button is held. The grab only computes the new rectangle; the layout decides
//! what is allowed (limits, staying on screen).

use smithay::{
    input::{
        SeatHandler,
        pointer::{
            AxisFrame, ButtonEvent, GestureHoldBeginEvent, GestureHoldEndEvent,
            GesturePinchBeginEvent, GesturePinchEndEvent, GesturePinchUpdateEvent,
            GestureSwipeBeginEvent, GestureSwipeEndEvent, GestureSwipeUpdateEvent, GrabStartData,
            MotionEvent, PointerGrab, PointerInnerHandle, RelativeMotionEvent,
        },
    },
    reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::ResizeEdge,
    utils::{Logical, Point},
};

use crate::{
    layout::{Rect, WindowId},
    state::Skerry,
};

/// Which edges a resize moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edges {
    pub top: bool,
    pub bottom: bool,
    pub left: bool,
    pub right: bool,
}

impl From<ResizeEdge> for Edges {
    fn from(edge: ResizeEdge) -> Self {
        let (top, bottom, left, right) = match edge {
            ResizeEdge::Top => (true, false, false, false),
            ResizeEdge::Bottom => (false, true, false, false),
            ResizeEdge::Left => (false, false, true, false),
            ResizeEdge::Right => (false, false, false, true),
            ResizeEdge::TopLeft => (true, false, true, false),
            ResizeEdge::TopRight => (true, false, false, true),
            ResizeEdge::BottomLeft => (false, true, true, false),
            ResizeEdge::BottomRight => (false, true, false, true),
            _ => (false, false, false, false),
        };
        Self {
            top,
            bottom,
            left,
            right,
        }
    }
}

/// The rectangle after dragging `initial`'s `edges` (or the whole window) by `delta`.
pub fn dragged(initial: Rect, edges: Option<Edges>, dx: i32, dy: i32) -> Rect {
    let Some(e) = edges else {
        return Rect {
            x: initial.x + dx,
            y: initial.y + dy,
            ..initial
        };
    };
    let mut r = initial;
    if e.left {
        r.x += dx;
        r.w -= dx;
    }
    if e.right {
        r.w += dx;
    }
    if e.top {
        r.y += dy;
        r.h -= dy;
    }
    if e.bottom {
        r.h += dy;
    }
    r.w = r.w.max(1);
    r.h = r.h.max(1);
    r
}

pub struct MoveResizeGrab {
    pub start_data: GrabStartData<Skerry>,
    pub window: WindowId,
    pub initial: Rect,
    pub edges: Option<Edges>,
}

impl PointerGrab<Skerry> for MoveResizeGrab {
    fn motion(
        &mut self,
        data: &mut Skerry,
        handle: &mut PointerInnerHandle<'_, Skerry>,
        _focus: Option<(<Skerry as SeatHandler>::PointerFocus, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        // No client gets pointer motion during the grab.
        handle.motion(data, None, event);
        let delta = event.location - self.start_data.location;
        let r = dragged(
            self.initial,
            self.edges,
            delta.x.round() as i32,
            delta.y.round() as i32,
        );
        match self.edges {
            None => data.layout.move_window(self.window, r.x, r.y),
            Some(_) => {
                data.layout.resize_window(self.window, r.w, r.h);
                data.layout.move_window(self.window, r.x, r.y);
            }
        }
        data.apply_layout();
    }

    fn relative_motion(
        &mut self,
        data: &mut Skerry,
        handle: &mut PointerInnerHandle<'_, Skerry>,
        focus: Option<(<Skerry as SeatHandler>::PointerFocus, Point<f64, Logical>)>,
        event: &RelativeMotionEvent,
    ) {
        handle.relative_motion(data, focus, event);
    }

    fn button(
        &mut self,
        data: &mut Skerry,
        handle: &mut PointerInnerHandle<'_, Skerry>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    fn axis(
        &mut self,
        data: &mut Skerry,
        handle: &mut PointerInnerHandle<'_, Skerry>,
        details: AxisFrame,
    ) {
        handle.axis(data, details)
    }

    fn frame(&mut self, data: &mut Skerry, handle: &mut PointerInnerHandle<'_, Skerry>) {
        handle.frame(data);
    }

    fn gesture_swipe_begin(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GestureSwipeBeginEvent,
    ) {
        h.gesture_swipe_begin(d, e)
    }
    fn gesture_swipe_update(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GestureSwipeUpdateEvent,
    ) {
        h.gesture_swipe_update(d, e)
    }
    fn gesture_swipe_end(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GestureSwipeEndEvent,
    ) {
        h.gesture_swipe_end(d, e)
    }
    fn gesture_pinch_begin(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GesturePinchBeginEvent,
    ) {
        h.gesture_pinch_begin(d, e)
    }
    fn gesture_pinch_update(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GesturePinchUpdateEvent,
    ) {
        h.gesture_pinch_update(d, e)
    }
    fn gesture_pinch_end(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GesturePinchEndEvent,
    ) {
        h.gesture_pinch_end(d, e)
    }
    fn gesture_hold_begin(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GestureHoldBeginEvent,
    ) {
        h.gesture_hold_begin(d, e)
    }
    fn gesture_hold_end(
        &mut self,
        d: &mut Skerry,
        h: &mut PointerInnerHandle<'_, Skerry>,
        e: &GestureHoldEndEvent,
    ) {
        h.gesture_hold_end(d, e)
    }

    fn start_data(&self) -> &GrabStartData<Skerry> {
        &self.start_data
    }

    fn unset(&mut self, _data: &mut Skerry) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dragging_edges() {
        let r = Rect::new(100, 100, 400, 300);
        assert_eq!(dragged(r, None, 10, -5), Rect::new(110, 95, 400, 300));
        let tl = Edges::from(ResizeEdge::TopLeft);
        assert_eq!(dragged(r, Some(tl), 10, 20), Rect::new(110, 120, 390, 280));
        let br = Edges::from(ResizeEdge::BottomRight);
        assert_eq!(dragged(r, Some(br), -500, 10), Rect::new(100, 100, 1, 310));
    }
}
