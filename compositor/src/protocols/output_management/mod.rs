//! `zwlr_output_manager_v1` (version 4): how the streamer (and `wlr-randr`) make the
//! headless output follow the browser window's size and devicePixelRatio.
//!
//! Heads mirror smithay [`Output`]s. The compositor changes outputs however it likes and
//! then calls [`OutputManagementState::refresh`], which sends every manager what changed
//! under a new serial. Client configurations are validated here against the protocol
//! (errors for misuse, `cancelled` for a stale serial, `failed` for sizes Skerry will not
//! render) and handed to [`OutputManagementHandler`] as a plain [`OutputConfiguration`].

mod config;

use std::sync::Mutex;

use smithay::output::{Mode, Output};
use smithay::utils::{Logical, Physical, Point, Size, Transform};
use wayland_protocols_wlr::output_management::v1::server::{
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};
use wayland_server::backend::{ClientId, GlobalId};
use wayland_server::protocol::wl_output;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource};

pub use config::{ConfigHeadData, ConfigurationData};
use wayland_protocols_wlr::output_management::v1::server::{
    zwlr_output_configuration_head_v1::ZwlrOutputConfigurationHeadV1,
    zwlr_output_configuration_v1::ZwlrOutputConfigurationV1,
};

const VERSION: u32 = 4;

/// Sizes Skerry agrees to render, per side, in pixels.
pub const MODE_SIDE_LIMITS: std::ops::RangeInclusive<i32> = 64..=8192;

/// The mode a configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ModeRequest {
    /// One the head advertised.
    Advertised(Mode),
    /// Any size; `refresh` in mHz, 0 when the client left it to the compositor.
    Custom {
        size: Size<i32, Physical>,
        refresh: i32,
    },
}

/// What a configuration asks of one head; `None` leaves that property as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadConfiguration {
    pub output: Output,
    pub enabled: bool,
    pub mode: Option<ModeRequest>,
    pub position: Option<Point<i32, Logical>>,
    pub transform: Option<Transform>,
    pub scale: Option<f64>,
    pub adaptive_sync: Option<bool>,
}

/// A whole configuration: every head, enabled or not.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfiguration {
    pub heads: Vec<HeadConfiguration>,
}

/// Why the compositor refused a configuration (the client gets `failed`).
#[derive(Debug, thiserror::Error)]
pub enum OutputConfigError {
    #[error("mode {0:?} is outside what Skerry renders")]
    UnsupportedSize(Size<i32, Physical>),
    #[error("disabling every output is not supported")]
    NoOutputs,
    #[error("{0}")]
    Refused(String),
}

/// The compositor side of output management.
pub trait OutputManagementHandler:
    GlobalDispatch<ZwlrOutputManagerV1, OutputManagementGlobalData>
    + Dispatch<ZwlrOutputManagerV1, ()>
    + Dispatch<ZwlrOutputHeadV1, Output>
    + Dispatch<ZwlrOutputModeV1, Mode>
    + Dispatch<ZwlrOutputConfigurationV1, ConfigurationData>
    + Dispatch<ZwlrOutputConfigurationHeadV1, ConfigHeadData>
    + 'static
{
    fn output_management_state(&mut self) -> &mut OutputManagementState;

    /// Whether `config` could be applied, without changing anything.
    fn test_output_configuration(
        &mut self,
        _config: &OutputConfiguration,
    ) -> Result<(), OutputConfigError> {
        Ok(())
    }

    /// Applies `config` to the outputs. On success the state calls
    /// [`OutputManagementState::refresh`] so every manager sees the result.
    fn apply_output_configuration(
        &mut self,
        config: OutputConfiguration,
    ) -> Result<(), OutputConfigError>;
}

/// Global data: which clients may see the global.
pub struct OutputManagementGlobalData {
    filter: Box<dyn Fn(&Client) -> bool + Send + Sync>,
}

impl std::fmt::Debug for OutputManagementGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputManagementGlobalData")
            .finish_non_exhaustive()
    }
}

/// The properties a head advertises, compared to find what changed.
#[derive(Debug, Clone, PartialEq)]
struct HeadSnapshot {
    modes: Vec<Mode>,
    current: Option<Mode>,
    enabled: bool,
    position: Point<i32, Logical>,
    transform: Transform,
    scale: f64,
}

impl HeadSnapshot {
    fn of(output: &Output, enabled: bool) -> Self {
        let current = output.current_mode();
        let mut modes = output.modes();
        if let Some(current) = current.filter(|c| !modes.contains(c)) {
            modes.push(current);
        }
        Self {
            modes,
            current,
            enabled,
            position: output.current_location(),
            transform: output.current_transform(),
            scale: output.current_scale().fractional_scale(),
        }
    }
}

#[derive(Debug)]
struct Head {
    output: Output,
    enabled: bool,
    sent: HeadSnapshot,
}

/// One client's view of one head: its head object and its mode objects.
#[derive(Debug)]
struct HeadInstance {
    output: Output,
    head: ZwlrOutputHeadV1,
    modes: Mutex<Vec<(Mode, ZwlrOutputModeV1)>>,
}

#[derive(Debug)]
struct Manager {
    manager: ZwlrOutputManagerV1,
    heads: Vec<HeadInstance>,
}

/// State of the output-management global.
#[derive(Debug)]
pub struct OutputManagementState {
    global: GlobalId,
    display: DisplayHandle,
    serial: u32,
    heads: Vec<Head>,
    managers: Vec<Manager>,
}

impl OutputManagementState {
    pub fn new<D: OutputManagementHandler>(
        display: &DisplayHandle,
        filter: impl Fn(&Client) -> bool + Send + Sync + 'static,
    ) -> Self {
        let global = display.create_global::<D, ZwlrOutputManagerV1, _>(
            VERSION,
            OutputManagementGlobalData {
                filter: Box::new(filter),
            },
        );
        Self {
            global,
            display: display.clone(),
            serial: 1,
            heads: Vec::new(),
            managers: Vec::new(),
        }
    }

    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    /// The serial clients must quote for their configuration to be current.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Whether `output` is enabled as far as output management knows.
    pub fn is_enabled(&self, output: &Output) -> bool {
        self.heads.iter().any(|h| h.output == *output && h.enabled)
    }

    /// Advertises `output` as a head to every manager.
    pub fn add_head<D: OutputManagementHandler>(&mut self, output: &Output) {
        if self.heads.iter().any(|h| h.output == *output) {
            return;
        }
        let head = Head {
            output: output.clone(),
            enabled: true,
            sent: HeadSnapshot::of(output, true),
        };
        self.managers.retain(|m| m.manager.is_alive());
        for manager in &mut self.managers {
            if let Some(instance) = announce_head::<D>(&self.display, &manager.manager, &head) {
                manager.heads.push(instance);
            }
        }
        self.heads.push(head);
        self.bump_serial();
    }

    /// Withdraws `output`'s head from every manager.
    pub fn remove_head(&mut self, output: &Output) {
        self.heads.retain(|h| h.output != *output);
        for manager in &mut self.managers {
            manager.heads.retain(|instance| {
                if instance.output != *output {
                    return true;
                }
                if let Ok(modes) = instance.modes.lock() {
                    for (_, mode) in modes.iter() {
                        mode.finished();
                    }
                }
                instance.head.finished();
                false
            });
        }
        self.bump_serial();
    }

    /// Marks `output` enabled or disabled (the compositor decides what that means).
    pub fn set_enabled(&mut self, output: &Output, enabled: bool) {
        if let Some(head) = self.heads.iter_mut().find(|h| h.output == *output) {
            head.enabled = enabled;
        }
    }

    /// Sends every manager what changed on the outputs since the last call, under a new
    /// serial. Call after changing an output's mode, scale, transform or position.
    pub fn refresh<D: OutputManagementHandler>(&mut self) {
        self.managers.retain(|m| m.manager.is_alive());
        let mut changed = false;
        for head in &mut self.heads {
            let now = HeadSnapshot::of(&head.output, head.enabled);
            if now == head.sent {
                continue;
            }
            changed = true;
            for manager in &self.managers {
                for instance in manager.heads.iter().filter(|i| i.output == head.output) {
                    send_head_changes::<D>(&self.display, instance, Some(&head.sent), &now);
                }
            }
            head.sent = now;
        }
        if changed {
            self.bump_serial();
        }
    }

    fn bump_serial(&mut self) {
        self.serial = self.serial.wrapping_add(1);
        for manager in &self.managers {
            manager.manager.done(self.serial);
        }
    }
}

fn announce_head<D: OutputManagementHandler>(
    display: &DisplayHandle,
    manager: &ZwlrOutputManagerV1,
    head: &Head,
) -> Option<HeadInstance> {
    let client = display.get_client(manager.id()).ok()?;
    let resource = client
        .create_resource::<ZwlrOutputHeadV1, _, D>(display, manager.version(), head.output.clone())
        .ok()?;
    manager.head(&resource);
    resource.name(head.output.name());
    resource.description(head.output.description());
    let physical = head.output.physical_properties();
    if physical.size.w > 0 && physical.size.h > 0 {
        resource.physical_size(physical.size.w, physical.size.h);
    }
    if resource.version() >= 2 {
        resource.make(physical.make);
        resource.model(physical.model);
    }
    let instance = HeadInstance {
        output: head.output.clone(),
        head: resource,
        modes: Mutex::new(Vec::new()),
    };
    send_head_changes::<D>(display, &instance, None, &head.sent);
    if instance.head.version() >= 4 {
        instance
            .head
            .adaptive_sync(zwlr_output_head_v1::AdaptiveSyncState::Disabled);
    }
    Some(instance)
}

/// Sends the head events that take a client from `old` (nothing yet, if `None`) to `new`.
fn send_head_changes<D: OutputManagementHandler>(
    display: &DisplayHandle,
    instance: &HeadInstance,
    old: Option<&HeadSnapshot>,
    new: &HeadSnapshot,
) {
    let head = &instance.head;
    let Ok(mut modes) = instance.modes.lock() else {
        return;
    };
    modes.retain(|(mode, resource)| {
        if new.modes.contains(mode) {
            return true;
        }
        resource.finished();
        false
    });
    if let Ok(client) = display.get_client(head.id()) {
        for mode in &new.modes {
            if modes.iter().any(|(m, _)| m == mode) {
                continue;
            }
            let Ok(resource) =
                client.create_resource::<ZwlrOutputModeV1, _, D>(display, head.version(), *mode)
            else {
                continue;
            };
            head.mode(&resource);
            resource.size(mode.size.w, mode.size.h);
            if mode.refresh > 0 {
                resource.refresh(mode.refresh);
            }
            if instance.output.preferred_mode() == Some(*mode) {
                resource.preferred();
            }
            modes.push((*mode, resource));
        }
    }
    if old.is_none_or(|o| o.enabled != new.enabled) {
        head.enabled(i32::from(new.enabled));
    }
    if !new.enabled {
        return;
    }
    let was_enabled = old.is_some_and(|o| o.enabled);
    if (!was_enabled || old.is_some_and(|o| o.current != new.current))
        && let Some((_, resource)) = new
            .current
            .and_then(|c| modes.iter().find(|(m, _)| *m == c))
    {
        head.current_mode(resource);
    }
    if !was_enabled || old.is_some_and(|o| o.position != new.position) {
        head.position(new.position.x, new.position.y);
    }
    if !was_enabled || old.is_some_and(|o| o.transform != new.transform) {
        head.transform(wl_output::Transform::from(new.transform));
    }
    if !was_enabled || old.is_some_and(|o| o.scale != new.scale) {
        head.scale(new.scale);
    }
}

impl<D: OutputManagementHandler> GlobalDispatch<ZwlrOutputManagerV1, OutputManagementGlobalData, D>
    for OutputManagementState
{
    fn bind(
        state: &mut D,
        display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrOutputManagerV1>,
        _global_data: &OutputManagementGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        let manager = data_init.init(resource, ());
        let state = state.output_management_state();
        let heads = state
            .heads
            .iter()
            .filter_map(|head| announce_head::<D>(display, &manager, head))
            .collect();
        manager.done(state.serial);
        state.managers.push(Manager { manager, heads });
    }

    fn can_view(client: Client, global_data: &OutputManagementGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: OutputManagementHandler> Dispatch<ZwlrOutputManagerV1, (), D> for OutputManagementState {
    fn request(
        state: &mut D,
        _client: &Client,
        manager: &ZwlrOutputManagerV1,
        request: zwlr_output_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match request {
            zwlr_output_manager_v1::Request::CreateConfiguration { id, serial } => {
                data_init.init(id, ConfigurationData::new(serial));
            }
            zwlr_output_manager_v1::Request::Stop => {
                state
                    .output_management_state()
                    .managers
                    .retain(|m| m.manager != *manager);
                manager.finished();
            }
            _ => {}
        }
    }

    fn destroyed(state: &mut D, _client: ClientId, manager: &ZwlrOutputManagerV1, _data: &()) {
        state
            .output_management_state()
            .managers
            .retain(|m| m.manager != *manager);
    }
}

impl<D: OutputManagementHandler> Dispatch<ZwlrOutputHeadV1, Output, D> for OutputManagementState {
    fn request(
        _state: &mut D,
        _client: &Client,
        _head: &ZwlrOutputHeadV1,
        _request: zwlr_output_head_v1::Request,
        _data: &Output,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        // `release` is the only request; the destructor does the bookkeeping.
    }

    fn destroyed(state: &mut D, _client: ClientId, head: &ZwlrOutputHeadV1, _data: &Output) {
        for manager in &mut state.output_management_state().managers {
            manager.heads.retain(|i| i.head != *head);
        }
    }
}

impl<D: OutputManagementHandler> Dispatch<ZwlrOutputModeV1, Mode, D> for OutputManagementState {
    fn request(
        _state: &mut D,
        _client: &Client,
        _mode: &ZwlrOutputModeV1,
        _request: zwlr_output_mode_v1::Request,
        _data: &Mode,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
    }

    fn destroyed(state: &mut D, _client: ClientId, mode: &ZwlrOutputModeV1, _data: &Mode) {
        for manager in &state.output_management_state().managers {
            for instance in &manager.heads {
                if let Ok(mut modes) = instance.modes.lock() {
                    modes.retain(|(_, m)| m != mode);
                }
            }
        }
    }
}

/// Delegates output management to [`OutputManagementState`]; implement
/// [`OutputManagementHandler`].
#[macro_export]
macro_rules! delegate_output_management {
    ($ty:ty) => {
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::wayland_protocols_wlr::output_management::v1::server::zwlr_output_manager_v1::ZwlrOutputManagerV1:
                $crate::protocols::output_management::OutputManagementGlobalData
        ] => $crate::protocols::output_management::OutputManagementState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::output_management::v1::server::zwlr_output_manager_v1::ZwlrOutputManagerV1: ()
        ] => $crate::protocols::output_management::OutputManagementState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::output_management::v1::server::zwlr_output_head_v1::ZwlrOutputHeadV1:
                ::smithay::output::Output
        ] => $crate::protocols::output_management::OutputManagementState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::output_management::v1::server::zwlr_output_mode_v1::ZwlrOutputModeV1:
                ::smithay::output::Mode
        ] => $crate::protocols::output_management::OutputManagementState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::output_management::v1::server::zwlr_output_configuration_v1::ZwlrOutputConfigurationV1:
                $crate::protocols::output_management::ConfigurationData
        ] => $crate::protocols::output_management::OutputManagementState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::output_management::v1::server::zwlr_output_configuration_head_v1::ZwlrOutputConfigurationHeadV1:
                $crate::protocols::output_management::ConfigHeadData
        ] => $crate::protocols::output_management::OutputManagementState);
    };
}
