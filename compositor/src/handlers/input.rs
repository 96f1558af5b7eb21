//! Input-related protocols: cursor-shape, relative pointer, pointer constraints (pointer
//! lock), virtual keyboard (Skerry's own, see `protocols::virtual_keyboard`), text-input v3
//! and input-method v2, plus fractional scale, viewporter, presentation-time and
//! ext-foreign-toplevel-list which need no policy.

use smithay::{
    delegate_cursor_shape, delegate_foreign_toplevel_list, delegate_fractional_scale,
    delegate_input_method_manager, delegate_pointer_constraints, delegate_presentation,
    delegate_relative_pointer, delegate_text_input_manager, delegate_viewporter,
    desktop::{PopupKind, PopupManager},
    input::pointer::PointerHandle,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{Logical, Point, Rectangle},
    wayland::{
        compositor::with_states,
        foreign_toplevel_list::{ForeignToplevelListHandler, ForeignToplevelListState},
        fractional_scale::{FractionalScaleHandler, with_fractional_scale},
        input_method::{InputMethodHandler, PopupSurface},
        pointer_constraints::{PointerConstraintsHandler, with_pointer_constraint},
        tablet_manager::TabletSeatHandler,
    },
};

use std::sync::Arc;

use crate::protocols::virtual_keyboard::{
    VirtualKeyboardEvent, VirtualKeyboardHandler, VirtualKeymap,
};
use crate::state::Skerry;

// wp_cursor_shape_v1 needs the tablet seat hook; Skerry has no tablets.
impl TabletSeatHandler for Skerry {}
delegate_cursor_shape!(Skerry);

delegate_relative_pointer!(Skerry);

// zwp_pointer_constraints_v1: grant a lock or confinement to the surface under the pointer.
impl PointerConstraintsHandler for Skerry {
    fn new_constraint(&mut self, surface: &WlSurface, pointer: &PointerHandle<Self>) {
        if pointer.current_focus().as_ref() == Some(surface) {
            with_pointer_constraint(surface, pointer, |constraint| {
                if let Some(c) = constraint {
                    c.activate();
                }
            });
        }
    }

    fn cursor_position_hint(
        &mut self,
        surface: &WlSurface,
        pointer: &PointerHandle<Self>,
        location: Point<f64, Logical>,
    ) {
        let active =
            with_pointer_constraint(surface, pointer, |c| c.is_some_and(|c| c.is_active()));
        if !active {
            return;
        }
        let origin = self
            .window_for_surface(surface)
            .and_then(|id| self.content_rect(id))
            .map(|r| Point::<i32, Logical>::from((r.x, r.y)).to_f64());
        if let Some(origin) = origin {
            pointer.set_location(origin + location);
        }
    }
}
delegate_pointer_constraints!(Skerry);

// zwp_virtual_keyboard_v1: keys go through the same path as a physical keyboard's.
impl VirtualKeyboardHandler for Skerry {
    fn virtual_keyboard_event(&mut self, keymap: &Arc<VirtualKeymap>, event: VirtualKeyboardEvent) {
        self.use_virtual_keymap(keymap);
        match event {
            VirtualKeyboardEvent::Key { key, pressed } => self.handle_key(key, pressed),
            VirtualKeyboardEvent::Modifiers {
                depressed,
                latched,
                locked,
            } => self.set_modifiers(keymap.modifiers(depressed, latched, locked)),
        }
    }
}
crate::delegate_virtual_keyboard!(Skerry);
delegate_text_input_manager!(Skerry);

// zwp_input_method_v2: IME popups are positioned next to the text cursor of their parent.
impl InputMethodHandler for Skerry {
    fn new_popup(&mut self, surface: PopupSurface) {
        if let Err(e) = self.popups.track_popup(PopupKind::from(surface)) {
            tracing::debug!("cannot track input-method popup: {e}");
        }
    }

    fn popup_repositioned(&mut self, _surface: PopupSurface) {}

    fn dismiss_popup(&mut self, surface: PopupSurface) {
        if let Some(parent) = surface.get_parent().map(|p| p.surface.clone()) {
            let _ = PopupManager::dismiss_popup(&parent, &PopupKind::from(surface));
        }
    }

    fn parent_geometry(&self, parent: &WlSurface) -> Rectangle<i32, Logical> {
        self.window_for_surface(parent)
            .and_then(|id| self.windows.get(&id))
            .map(|m| m.window.geometry())
            .unwrap_or_default()
    }
}
delegate_input_method_manager!(Skerry);

// wp_fractional_scale_v1: every surface is on the one output, so it gets the output scale.
impl FractionalScaleHandler for Skerry {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        let scale = self.scale();
        with_states(&surface, |states| {
            with_fractional_scale(states, |fs| fs.set_preferred_scale(scale));
        });
    }
}
delegate_fractional_scale!(Skerry);

delegate_viewporter!(Skerry);
delegate_presentation!(Skerry);

impl ForeignToplevelListHandler for Skerry {
    fn foreign_toplevel_list_state(&mut self) -> &mut ForeignToplevelListState {
        &mut self.foreign_toplevel_list_state
    }
}
delegate_foreign_toplevel_list!(Skerry);
