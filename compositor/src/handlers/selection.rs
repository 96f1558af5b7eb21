//! Clipboard protocols: wl_data_device, primary selection, and both data-control protocols
//! (ext and wlr) that clipboard managers and the streamer use; X11 selections are bridged
//! through the Xwayland window manager.

use std::os::fd::OwnedFd;

use smithay::{
    delegate_data_control, delegate_data_device, delegate_ext_data_control,
    delegate_primary_selection,
    input::Seat,
    wayland::selection::{
        SelectionHandler, SelectionSource, SelectionTarget,
        data_device::{
            ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler,
        },
        ext_data_control::{
            DataControlHandler as ExtDataControlHandler, DataControlState as ExtState,
        },
        primary_selection::{PrimarySelectionHandler, PrimarySelectionState},
        wlr_data_control::{
            DataControlHandler as WlrDataControlHandler, DataControlState as WlrState,
        },
    },
};

use crate::state::Skerry;

impl SelectionHandler for Skerry {
    type SelectionUserData = ();

    fn new_selection(
        &mut self,
        ty: SelectionTarget,
        source: Option<SelectionSource>,
        _seat: Seat<Self>,
    ) {
        if let Some(xwm) = self.xwm.as_mut()
            && let Err(err) = xwm.new_selection(ty, source.map(|s| s.mime_types()))
        {
            tracing::warn!(?err, ?ty, "cannot hand the selection to Xwayland");
        }
    }

    fn send_selection(
        &mut self,
        ty: SelectionTarget,
        mime_type: String,
        fd: OwnedFd,
        _seat: Seat<Self>,
        _user_data: &(),
    ) {
        if let Some(xwm) = self.xwm.as_mut()
            && let Err(err) = xwm.send_selection(ty, mime_type, fd, self.loop_handle.clone())
        {
            tracing::warn!(?err, "cannot send an X11 selection to a Wayland client");
        }
    }
}

impl DataDeviceHandler for Skerry {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device_state
    }
}
impl ClientDndGrabHandler for Skerry {}
impl ServerDndGrabHandler for Skerry {
    fn send(&mut self, _mime_type: String, _fd: OwnedFd, _seat: Seat<Self>) {}
}
delegate_data_device!(Skerry);

impl PrimarySelectionHandler for Skerry {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.primary_selection_state
    }
}
delegate_primary_selection!(Skerry);

impl WlrDataControlHandler for Skerry {
    fn data_control_state(&self) -> &WlrState {
        &self.wlr_data_control_state
    }
}
delegate_data_control!(Skerry);

impl ExtDataControlHandler for Skerry {
    fn data_control_state(&self) -> &ExtState {
        &self.ext_data_control_state
    }
}
delegate_ext_data_control!(Skerry);
