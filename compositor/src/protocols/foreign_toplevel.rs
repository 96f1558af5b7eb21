//! `zwlr_foreign_toplevel_manager_v1` (version 3): the window list the desktop shell's
//! taskbar shows and drives (activate, minimise, maximise, fullscreen, close).
//!
//! The compositor owns one [`ToplevelHandle`] per window and replaces its
//! [`ToplevelInfo`] whenever the window's title, app_id, state or outputs change; the
//! handle works out which events each client needs and sends `done`. Requests from clients
//! reach [`ForeignToplevelHandler::foreign_toplevel_request`] with the handle, so the
//! window manager decides what they mean.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use smithay::output::Output;
use smithay::utils::{Logical, Rectangle};
use wayland_protocols_wlr::foreign_toplevel::v1::server::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};
use wayland_server::backend::{ClientId, GlobalId};
use wayland_server::protocol::{wl_output::WlOutput, wl_seat::WlSeat, wl_surface::WlSurface};
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource};

const VERSION: u32 = 3;

/// What clients are told about one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToplevelInfo {
    pub title: String,
    pub app_id: String,
    pub maximized: bool,
    pub minimized: bool,
    pub activated: bool,
    pub fullscreen: bool,
    /// Outputs the window is visible on.
    pub outputs: Vec<Output>,
    /// The window this one is a dialog or child of.
    pub parent: Option<ToplevelHandle>,
}

impl ToplevelInfo {
    fn state_array(&self) -> Vec<u8> {
        use zwlr_foreign_toplevel_handle_v1::State;
        [
            (self.maximized, State::Maximized),
            (self.minimized, State::Minimized),
            (self.activated, State::Activated),
            (self.fullscreen, State::Fullscreen),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, s)| (s as u32).to_ne_bytes())
        .collect()
    }

    fn same_state(&self, other: &Self) -> bool {
        (
            self.maximized,
            self.minimized,
            self.activated,
            self.fullscreen,
        ) == (
            other.maximized,
            other.minimized,
            other.activated,
            other.fullscreen,
        )
    }
}

/// A client's request about a window.
#[derive(Debug, Clone)]
pub enum ToplevelRequest {
    Activate {
        seat: WlSeat,
    },
    SetMaximized(bool),
    SetMinimized(bool),
    /// `output` is where the client would like it, if it said.
    SetFullscreen {
        fullscreen: bool,
        output: Option<Output>,
    },
    Close,
    /// Where the client shows this window (a taskbar button), for minimise animations.
    SetRectangle {
        surface: WlSurface,
        rect: Rectangle<i32, Logical>,
    },
}

/// The compositor side of the window list.
pub trait ForeignToplevelHandler:
    GlobalDispatch<ZwlrForeignToplevelManagerV1, ForeignToplevelGlobalData>
    + Dispatch<ZwlrForeignToplevelManagerV1, ()>
    + Dispatch<ZwlrForeignToplevelHandleV1, ToplevelHandle>
    + 'static
{
    fn foreign_toplevel_state(&mut self) -> &mut ForeignToplevelManagerState;

    fn foreign_toplevel_request(&mut self, toplevel: &ToplevelHandle, request: ToplevelRequest);
}

/// Global data: which clients may see the global.
pub struct ForeignToplevelGlobalData {
    filter: Box<dyn Fn(&Client) -> bool + Send + Sync>,
}

impl std::fmt::Debug for ForeignToplevelGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignToplevelGlobalData")
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct ToplevelInner {
    info: ToplevelInfo,
    instances: Vec<ZwlrForeignToplevelHandleV1>,
    closed: bool,
}

/// One window as the window list sees it. Cheap to clone; equal when it is the same window.
#[derive(Clone)]
pub struct ToplevelHandle {
    id: u64,
    inner: Arc<Mutex<ToplevelInner>>,
}

impl std::fmt::Debug for ToplevelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToplevelHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ToplevelHandle {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl ToplevelHandle {
    /// A number unique to this window for the life of the compositor.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn info(&self) -> ToplevelInfo {
        self.inner
            .lock()
            .map(|i| i.info.clone())
            .unwrap_or_default()
    }

    /// Replaces what clients know about the window, sending only what changed, then `done`.
    pub fn set_info(&self, info: ToplevelInfo) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.closed || inner.info == info {
            return;
        }
        let old = std::mem::replace(&mut inner.info, info);
        inner.instances.retain(|r| r.is_alive());
        for instance in &inner.instances {
            send_diff(instance, self.id, Some(&old), &inner.info);
        }
    }

    /// The window is gone: every client gets `closed` and the handle goes inert.
    pub fn close(&self) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.closed {
            return;
        }
        inner.closed = true;
        for instance in inner.instances.drain(..) {
            if instance.is_alive() {
                instance.closed();
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().map(|i| i.closed).unwrap_or(true)
    }

    fn announce<D: ForeignToplevelHandler>(
        &self,
        display: &DisplayHandle,
        manager: &ZwlrForeignToplevelManagerV1,
    ) {
        let Ok(client) = display.get_client(manager.id()) else {
            return;
        };
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.closed {
            return;
        }
        let Ok(resource) = client.create_resource::<ZwlrForeignToplevelHandleV1, _, D>(
            display,
            manager.version(),
            self.clone(),
        ) else {
            return;
        };
        manager.toplevel(&resource);
        send_diff(&resource, self.id, None, &inner.info);
        inner.instances.push(resource);
    }
}

/// Sends `instance` the events that bring it from `old` (nothing, if new) to `new`, then `done`.
fn send_diff(
    instance: &ZwlrForeignToplevelHandleV1,
    own_id: u64,
    old: Option<&ToplevelInfo>,
    new: &ToplevelInfo,
) {
    if old.is_none_or(|o| o.title != new.title) {
        instance.title(new.title.clone());
    }
    if old.is_none_or(|o| o.app_id != new.app_id) {
        instance.app_id(new.app_id.clone());
    }
    if let Some(client) = instance.client() {
        let had = |o: &Output| old.is_some_and(|old| old.outputs.contains(o));
        for output in new.outputs.iter().filter(|o| !had(o)) {
            for wl_output in output.client_outputs(&client) {
                instance.output_enter(&wl_output);
            }
        }
        for output in old
            .iter()
            .flat_map(|o| &o.outputs)
            .filter(|o| !new.outputs.contains(o))
        {
            for wl_output in output.client_outputs(&client) {
                instance.output_leave(&wl_output);
            }
        }
    }
    if old.is_none_or(|o| !o.same_state(new)) {
        instance.state(new.state_array());
    }
    let parent_changed = match old {
        Some(old) => old.parent != new.parent,
        None => new.parent.is_some(),
    };
    if parent_changed && instance.version() >= 3 {
        match new.parent.as_ref().filter(|p| p.id != own_id) {
            Some(parent) => {
                // The parent as this client knows it; a parent it was never told about
                // cannot be named.
                let client = instance.client();
                let resource = parent.inner.lock().ok().and_then(|p| {
                    p.instances
                        .iter()
                        .find(|r| r.client() == client && r.is_alive())
                        .cloned()
                });
                if let Some(resource) = resource {
                    instance.parent(Some(&resource));
                }
            }
            None => instance.parent(None),
        }
    }
    instance.done();
}

/// State of the window-list global: its managers and the live windows.
#[derive(Debug)]
pub struct ForeignToplevelManagerState {
    global: GlobalId,
    display: DisplayHandle,
    managers: Vec<ZwlrForeignToplevelManagerV1>,
    toplevels: Vec<ToplevelHandle>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl ForeignToplevelManagerState {
    pub fn new<D: ForeignToplevelHandler>(
        display: &DisplayHandle,
        filter: impl Fn(&Client) -> bool + Send + Sync + 'static,
    ) -> Self {
        let global = display.create_global::<D, ZwlrForeignToplevelManagerV1, _>(
            VERSION,
            ForeignToplevelGlobalData {
                filter: Box::new(filter),
            },
        );
        Self {
            global,
            display: display.clone(),
            managers: Vec::new(),
            toplevels: Vec::new(),
        }
    }

    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    /// A new window: every client with a manager learns about it.
    pub fn new_toplevel<D: ForeignToplevelHandler>(
        &mut self,
        info: ToplevelInfo,
    ) -> ToplevelHandle {
        let handle = ToplevelHandle {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inner: Arc::new(Mutex::new(ToplevelInner {
                info,
                instances: Vec::new(),
                closed: false,
            })),
        };
        self.managers.retain(|m| m.is_alive());
        for manager in &self.managers {
            handle.announce::<D>(&self.display, manager);
        }
        self.toplevels.push(handle.clone());
        handle
    }

    /// Closes `handle` (see [`ToplevelHandle::close`]) and forgets it.
    pub fn remove_toplevel(&mut self, handle: &ToplevelHandle) {
        handle.close();
        self.toplevels.retain(|t| t != handle);
    }

    /// A client bound `wl_output` for `output` (smithay's `OutputHandler::output_bound`):
    /// its handles of windows on that output get `output_enter` for the new object.
    pub fn output_bound(&mut self, output: &Output, wl_output: &WlOutput) {
        let Some(client) = wl_output.client() else {
            return;
        };
        for toplevel in &self.toplevels {
            let Ok(inner) = toplevel.inner.lock() else {
                continue;
            };
            if inner.closed || !inner.info.outputs.contains(output) {
                continue;
            }
            for instance in &inner.instances {
                if instance.client().as_ref() == Some(&client) {
                    instance.output_enter(wl_output);
                    instance.done();
                }
            }
        }
    }

    pub fn toplevels(&self) -> impl Iterator<Item = &ToplevelHandle> {
        self.toplevels.iter()
    }
}

impl<D: ForeignToplevelHandler>
    GlobalDispatch<ZwlrForeignToplevelManagerV1, ForeignToplevelGlobalData, D>
    for ForeignToplevelManagerState
{
    fn bind(
        state: &mut D,
        display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrForeignToplevelManagerV1>,
        _global_data: &ForeignToplevelGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        let manager = data_init.init(resource, ());
        let state = state.foreign_toplevel_state();
        state.toplevels.retain(|t| !t.is_closed());
        for toplevel in &state.toplevels {
            toplevel.announce::<D>(display, &manager);
        }
        state.managers.push(manager);
    }

    fn can_view(client: Client, global_data: &ForeignToplevelGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: ForeignToplevelHandler> Dispatch<ZwlrForeignToplevelManagerV1, (), D>
    for ForeignToplevelManagerState
{
    fn request(
        state: &mut D,
        _client: &Client,
        manager: &ZwlrForeignToplevelManagerV1,
        request: zwlr_foreign_toplevel_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        if let zwlr_foreign_toplevel_manager_v1::Request::Stop = request {
            state
                .foreign_toplevel_state()
                .managers
                .retain(|m| m != manager);
            manager.finished();
        }
    }

    fn destroyed(
        state: &mut D,
        _client: ClientId,
        manager: &ZwlrForeignToplevelManagerV1,
        _data: &(),
    ) {
        state
            .foreign_toplevel_state()
            .managers
            .retain(|m| m != manager);
    }
}

impl<D: ForeignToplevelHandler> Dispatch<ZwlrForeignToplevelHandleV1, ToplevelHandle, D>
    for ForeignToplevelManagerState
{
    fn request(
        state: &mut D,
        _client: &Client,
        resource: &ZwlrForeignToplevelHandleV1,
        request: zwlr_foreign_toplevel_handle_v1::Request,
        handle: &ToplevelHandle,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        use zwlr_foreign_toplevel_handle_v1::Request;
        let request = match request {
            Request::SetMaximized => ToplevelRequest::SetMaximized(true),
            Request::UnsetMaximized => ToplevelRequest::SetMaximized(false),
            Request::SetMinimized => ToplevelRequest::SetMinimized(true),
            Request::UnsetMinimized => ToplevelRequest::SetMinimized(false),
            Request::Activate { seat } => ToplevelRequest::Activate { seat },
            Request::Close => ToplevelRequest::Close,
            Request::SetFullscreen { output } => ToplevelRequest::SetFullscreen {
                fullscreen: true,
                output: output.as_ref().and_then(Output::from_resource),
            },
            Request::UnsetFullscreen => ToplevelRequest::SetFullscreen {
                fullscreen: false,
                output: None,
            },
            Request::SetRectangle {
                surface,
                x,
                y,
                width,
                height,
            } => {
                if width < 0 || height < 0 {
                    resource.post_error(
                        zwlr_foreign_toplevel_handle_v1::Error::InvalidRectangle,
                        "rectangle has a negative size",
                    );
                    return;
                }
                ToplevelRequest::SetRectangle {
                    surface,
                    rect: Rectangle::new((x, y).into(), (width, height).into()),
                }
            }
            _ => return,
        };
        // Requests on a closed window are ignored, as the protocol asks.
        if !handle.is_closed() {
            state.foreign_toplevel_request(handle, request);
        }
    }

    fn destroyed(
        _state: &mut D,
        _client: ClientId,
        resource: &ZwlrForeignToplevelHandleV1,
        handle: &ToplevelHandle,
    ) {
        if let Ok(mut inner) = handle.inner.lock() {
            inner.instances.retain(|r| r != resource);
        }
    }
}

/// Delegates the window list to [`ForeignToplevelManagerState`]; implement
/// [`ForeignToplevelHandler`].
#[macro_export]
macro_rules! delegate_foreign_toplevel {
    ($ty:ty) => {
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::wayland_protocols_wlr::foreign_toplevel::v1::server::zwlr_foreign_toplevel_manager_v1::ZwlrForeignToplevelManagerV1:
                $crate::protocols::foreign_toplevel::ForeignToplevelGlobalData
        ] => $crate::protocols::foreign_toplevel::ForeignToplevelManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::foreign_toplevel::v1::server::zwlr_foreign_toplevel_manager_v1::ZwlrForeignToplevelManagerV1: ()
        ] => $crate::protocols::foreign_toplevel::ForeignToplevelManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::foreign_toplevel::v1::server::zwlr_foreign_toplevel_handle_v1::ZwlrForeignToplevelHandleV1:
                $crate::protocols::foreign_toplevel::ToplevelHandle
        ] => $crate::protocols::foreign_toplevel::ForeignToplevelManagerState);
    };
}
