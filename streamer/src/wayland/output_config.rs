//! Resizing the output to follow the browser, through `zwlr_output_management_v1`.
//!
//! The manager describes every head; a configuration must mention each of them once, so the
//! target head gets the custom mode and scale and the others are passed through as they are.
//! Only one configuration is in flight at a time: requests arriving meanwhile replace each
//! other and the latest is applied when the compositor answers. A `cancelled` answer (the
//! heads changed under us) is retried once with the new serial.

use wayland_client::backend::ObjectId;
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle, event_created_child};
use wayland_protocols_wlr::output_management::v1::client::{
    zwlr_output_configuration_head_v1::{self, ZwlrOutputConfigurationHeadV1},
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};

use super::state::State;
use crate::desktop::ModeRequest;

/// Largest output edge we will ask for.
const MAX_EDGE: u32 = 8192;

#[derive(Default)]
pub struct OutputConfig {
    heads: Vec<Head>,
    serial: Option<u32>,
    in_flight: Option<InFlight>,
    queued: Option<ModeRequest>,
    /// The scale of the last configuration the compositor accepted, for compositors whose
    /// heads do not report it (sway 1.7 describes a headless head as disabled).
    applied_scale: Option<f64>,
}

struct Head {
    head: ZwlrOutputHeadV1,
    name: Option<String>,
    enabled: bool,
    scale: Option<f64>,
}

struct InFlight {
    config: ZwlrOutputConfigurationV1,
    request: ModeRequest,
    retried: bool,
}

/// A request the compositor can act on: sane size, sane scale.
pub fn valid(mode: &ModeRequest) -> bool {
    (1..=MAX_EDGE).contains(&mode.width)
        && (1..=MAX_EDGE).contains(&mode.height)
        && mode.scale.is_finite()
        && (0.25..=8.0).contains(&mode.scale)
}

impl OutputConfig {
    /// The scale the manager reports for the head named `name`, when it reports one.
    pub fn scale_of(&self, name: Option<&str>) -> Option<f64> {
        let name = name?;
        self.heads
            .iter()
            .find(|h| h.enabled && h.name.as_deref() == Some(name))
            .and_then(|h| h.scale)
            .or(self.applied_scale)
    }
}

impl State {
    pub fn set_mode(&mut self, request: ModeRequest) {
        if !valid(&request) {
            tracing::warn!(?request, "ignoring an impossible output mode");
            return;
        }
        if self.globals.output_manager.is_none() {
            tracing::warn!("the compositor has no zwlr_output_manager_v1: cannot resize");
            return;
        }
        if self.output_config.in_flight.is_some() {
            self.output_config.queued = Some(request);
            return;
        }
        let current = self.output_size();
        let same_size = current == Some((request.width, request.height));
        if same_size && (self.output_scale() - request.scale).abs() < 1e-3 {
            tracing::debug!(?request, "output already has this mode");
            return;
        }
        self.apply_mode(request, false);
    }

    fn apply_mode(&mut self, request: ModeRequest, retried: bool) {
        let (Some(manager), Some(serial)) = (
            self.globals.output_manager.clone(),
            self.output_config.serial,
        ) else {
            return;
        };
        let Some(target_name) = self.target_output().and_then(|o| o.name.clone()) else {
            tracing::warn!("the captured output has no name; cannot match it to a head");
            return;
        };
        let Some(qh) = self.qh.clone() else {
            return;
        };
        if !self
            .output_config
            .heads
            .iter()
            .any(|h| h.name.as_deref() == Some(target_name.as_str()))
        {
            tracing::warn!(
                target_name,
                "no output-management head for the captured output"
            );
            return;
        }
        let config = manager.create_configuration(serial, &qh, ());
        for head in &self.output_config.heads {
            if head.name.as_deref() == Some(target_name.as_str()) {
                let conf = config.enable_head(&head.head, &qh, ());
                conf.set_custom_mode(request.width as i32, request.height as i32, 0);
                conf.set_scale(request.scale);
            } else if head.enabled {
                config.enable_head(&head.head, &qh, ());
            } else {
                config.disable_head(&head.head);
            }
        }
        config.apply();
        self.output_config.in_flight = Some(InFlight {
            config,
            request,
            retried,
        });
    }

    fn configuration_answered(&mut self, outcome: &str) {
        let Some(flight) = self.output_config.in_flight.take() else {
            return;
        };
        flight.config.destroy();
        match outcome {
            "succeeded" => {
                tracing::info!(request = ?flight.request, "output mode applied");
                self.output_config.applied_scale = Some(flight.request.scale);
                // The new scale is announced even when the size stays.
                self.capture.output_changed();
            }
            "cancelled" if !flight.retried && self.output_config.queued.is_none() => {
                tracing::debug!("output configuration cancelled; retrying once");
                self.apply_mode(flight.request, true);
                return;
            }
            _ => tracing::warn!(request = ?flight.request, outcome, "output mode not applied"),
        }
        if let Some(next) = self.output_config.queued.take() {
            self.set_mode(next);
        }
    }
}

impl Dispatch<ZwlrOutputManagerV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwlrOutputManagerV1,
        event: zwlr_output_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_output_manager_v1::Event::Head { head } => state.output_config.heads.push(Head {
                head,
                name: None,
                enabled: false,
                scale: None,
            }),
            zwlr_output_manager_v1::Event::Done { serial } => {
                state.output_config.serial = Some(serial);
            }
            zwlr_output_manager_v1::Event::Finished => {
                state.output_config.heads.clear();
                state.output_config.serial = None;
            }
            _ => {}
        }
    }

    event_created_child!(State, ZwlrOutputManagerV1, [
        zwlr_output_manager_v1::EVT_HEAD_OPCODE => (ZwlrOutputHeadV1, ()),
    ]);
}

impl Dispatch<ZwlrOutputHeadV1, ()> for State {
    fn event(
        state: &mut Self,
        proxy: &ZwlrOutputHeadV1,
        event: zwlr_output_head_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let id: ObjectId = proxy.id();
        let heads = &mut state.output_config.heads;
        let Some(head) = heads.iter_mut().find(|h| h.head.id() == id) else {
            return;
        };
        match event {
            zwlr_output_head_v1::Event::Name { name } => head.name = Some(name),
            zwlr_output_head_v1::Event::Enabled { enabled } => head.enabled = enabled != 0,
            zwlr_output_head_v1::Event::Scale { scale } => head.scale = Some(scale),
            zwlr_output_head_v1::Event::Finished => {
                heads.retain(|h| h.head.id() != id);
                if proxy.version() >= 3 {
                    proxy.release();
                }
            }
            _ => {}
        }
    }

    event_created_child!(State, ZwlrOutputHeadV1, [
        zwlr_output_head_v1::EVT_MODE_OPCODE => (ZwlrOutputModeV1, ()),
    ]);
}

impl Dispatch<ZwlrOutputModeV1, ()> for State {
    fn event(
        _: &mut Self,
        proxy: &ZwlrOutputModeV1,
        event: zwlr_output_mode_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if matches!(event, zwlr_output_mode_v1::Event::Finished) && proxy.version() >= 3 {
            proxy.release();
        }
    }
}

impl Dispatch<ZwlrOutputConfigurationV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwlrOutputConfigurationV1,
        event: zwlr_output_configuration_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_output_configuration_v1::Event::Succeeded => {
                state.configuration_answered("succeeded");
            }
            zwlr_output_configuration_v1::Event::Failed => state.configuration_answered("failed"),
            zwlr_output_configuration_v1::Event::Cancelled => {
                state.configuration_answered("cancelled");
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwlrOutputConfigurationHeadV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &ZwlrOutputConfigurationHeadV1,
        _: zwlr_output_configuration_head_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_modes_are_refused() {
        let ok = ModeRequest {
            width: 1280,
            height: 720,
            scale: 1.5,
        };
        assert!(valid(&ok));
        assert!(!valid(&ModeRequest { width: 0, ..ok }));
        assert!(!valid(&ModeRequest { height: 9000, ..ok }));
        assert!(!valid(&ModeRequest {
            scale: f64::NAN,
            ..ok
        }));
        assert!(!valid(&ModeRequest { scale: 0.0, ..ok }));
    }
}
