//! Smithay protocol handlers, one file per protocol family. Each file names the Wayland
//! protocol it serves; policy decisions are delegated to `windows.rs` and the layout.

mod compositor;
mod input;
mod layer_shell;
pub(crate) mod protocols;
mod selection;
mod xdg_shell;
mod xwayland;

use smithay::{
    delegate_output, delegate_seat,
    input::{Seat, SeatHandler, SeatState, pointer::CursorImageStatus},
    output::Output,
    reexports::wayland_server::{
        Resource,
        protocol::{wl_output::WlOutput, wl_surface::WlSurface},
    },
    wayland::{
        output::OutputHandler,
        selection::{data_device::set_data_device_focus, primary_selection::set_primary_focus},
    },
};

use crate::state::Skerry;

// wl_seat: keyboard and pointer focus are plain surfaces (X11 windows are focused through
// their Xwayland surface).
impl SeatHandler for Skerry {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Skerry> {
        &mut self.seat_state
    }

    fn cursor_image(&mut self, _seat: &Seat<Self>, image: CursorImageStatus) {
        self.cursor_image_changed(image);
    }

    fn focus_changed(&mut self, seat: &Seat<Self>, focused: Option<&WlSurface>) {
        // Clipboard offers go to the client with keyboard focus.
        let dh = &self.display_handle;
        let client = focused.and_then(|s| dh.get_client(s.id()).ok());
        set_data_device_focus(dh, seat, client.clone());
        set_primary_focus(dh, seat, client);
    }
}
delegate_seat!(Skerry);

// wl_output + xdg_output.
impl OutputHandler for Skerry {
    fn output_bound(&mut self, output: Output, wl_output: WlOutput) {
        // Window-list entries on this output name the new wl_output too.
        self.protocols
            .foreign_toplevel
            .output_bound(&output, &wl_output);
    }
}
delegate_output!(Skerry);
