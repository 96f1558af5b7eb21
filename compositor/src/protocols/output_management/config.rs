//! Client configurations (`zwlr_output_configuration_v1` and its per-head objects): the
//! protocol rules about what may be set once, which heads must be named, and turning a
//! finished configuration into an [`OutputConfiguration`] for the handler.

use std::sync::{Arc, Mutex};

use smithay::output::{Mode, Output};
use smithay::utils::{Point, Size, Transform};
use wayland_protocols_wlr::output_management::v1::server::{
    zwlr_output_configuration_head_v1::{self, ZwlrOutputConfigurationHeadV1},
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{AdaptiveSyncState, ZwlrOutputHeadV1},
};
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum};

use super::{
    HeadConfiguration, HeadSnapshot, MODE_SIDE_LIMITS, ModeRequest, OutputConfigError,
    OutputConfiguration, OutputManagementHandler, OutputManagementState,
};

#[derive(Debug, Default, Clone)]
struct HeadProps {
    mode: Option<ModeRequest>,
    position: Option<Point<i32, smithay::utils::Logical>>,
    transform: Option<Transform>,
    scale: Option<f64>,
    adaptive_sync: Option<bool>,
}

#[derive(Debug, Default)]
struct ConfigInner {
    used: bool,
    /// Every head the client named; `None` props for a disabled head.
    heads: Vec<(Output, Option<Arc<Mutex<HeadProps>>>)>,
}

/// User data of a configuration object.
#[derive(Debug)]
pub struct ConfigurationData {
    serial: u32,
    inner: Mutex<ConfigInner>,
}

impl ConfigurationData {
    pub(super) fn new(serial: u32) -> Self {
        Self {
            serial,
            inner: Mutex::new(ConfigInner::default()),
        }
    }
}

/// User data of a configuration's per-head object.
#[derive(Debug)]
pub struct ConfigHeadData {
    output: Output,
    props: Arc<Mutex<HeadProps>>,
}

impl<D: OutputManagementHandler> Dispatch<ZwlrOutputConfigurationV1, ConfigurationData, D>
    for OutputManagementState
{
    fn request(
        state: &mut D,
        _client: &Client,
        config: &ZwlrOutputConfigurationV1,
        request: zwlr_output_configuration_v1::Request,
        data: &ConfigurationData,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        use zwlr_output_configuration_v1::{Error, Request};
        let Ok(mut inner) = data.inner.lock() else {
            return;
        };
        let name_head = |inner: &mut ConfigInner, head: &ZwlrOutputHeadV1| -> Option<Output> {
            if inner.used {
                config.post_error(
                    Error::AlreadyUsed,
                    "configuration was already applied or tested",
                );
                return None;
            }
            let output = head.data::<Output>()?.clone();
            if inner.heads.iter().any(|(o, _)| *o == output) {
                config.post_error(Error::AlreadyConfiguredHead, "head was already configured");
                return None;
            }
            Some(output)
        };
        match request {
            Request::EnableHead { id, head } => {
                let Some(output) = name_head(&mut inner, &head) else {
                    // The new object must exist even when the request was refused.
                    data_init.init(
                        id,
                        ConfigHeadData {
                            output: head
                                .data::<Output>()
                                .cloned()
                                .unwrap_or_else(placeholder_output),
                            props: Arc::default(),
                        },
                    );
                    return;
                };
                let props = Arc::new(Mutex::new(HeadProps::default()));
                data_init.init(
                    id,
                    ConfigHeadData {
                        output: output.clone(),
                        props: props.clone(),
                    },
                );
                inner.heads.push((output, Some(props)));
            }
            Request::DisableHead { head } => {
                if let Some(output) = name_head(&mut inner, &head) {
                    inner.heads.push((output, None));
                }
            }
            Request::Apply | Request::Test => {
                if inner.used {
                    config.post_error(
                        Error::AlreadyUsed,
                        "configuration was already applied or tested",
                    );
                    return;
                }
                inner.used = true;
                let apply = matches!(request, Request::Apply);
                let heads = std::mem::take(&mut inner.heads);
                drop(inner);
                finish::<D>(state, config, data.serial, heads, apply);
            }
            _ => {}
        }
    }
}

/// An output that is never advertised, for objects created by refused requests.
fn placeholder_output() -> Output {
    Output::new(
        String::new(),
        smithay::output::PhysicalProperties {
            size: (0, 0).into(),
            subpixel: smithay::output::Subpixel::Unknown,
            make: String::new(),
            model: String::new(),
        },
    )
}

fn finish<D: OutputManagementHandler>(
    state: &mut D,
    config: &ZwlrOutputConfigurationV1,
    serial: u32,
    heads: Vec<(Output, Option<Arc<Mutex<HeadProps>>>)>,
    apply: bool,
) {
    let om = state.output_management_state();
    if let Some(missing) = om
        .heads
        .iter()
        .find(|h| !heads.iter().any(|(o, _)| *o == h.output))
    {
        config.post_error(
            zwlr_output_configuration_v1::Error::UnconfiguredHead,
            format!(
                "head {} was neither enabled nor disabled",
                missing.output.name()
            ),
        );
        return;
    }
    // A stale serial, or a head that has gone since: the client must look again.
    if serial != om.serial
        || heads
            .iter()
            .any(|(o, _)| !om.heads.iter().any(|h| h.output == *o))
    {
        config.cancelled();
        return;
    }
    let configuration = OutputConfiguration {
        heads: heads
            .into_iter()
            .map(|(output, props)| {
                let props = props.and_then(|p| p.lock().ok().map(|p| p.clone()));
                HeadConfiguration {
                    output,
                    enabled: props.is_some(),
                    mode: props.as_ref().and_then(|p| p.mode),
                    position: props.as_ref().and_then(|p| p.position),
                    transform: props.as_ref().and_then(|p| p.transform),
                    scale: props.as_ref().and_then(|p| p.scale),
                    adaptive_sync: props.as_ref().and_then(|p| p.adaptive_sync),
                }
            })
            .collect(),
    };
    let result = validate(&configuration).and_then(|()| {
        if apply {
            state.apply_output_configuration(configuration.clone())
        } else {
            state.test_output_configuration(&configuration)
        }
    });
    match result {
        Ok(()) => {
            if apply {
                let om = state.output_management_state();
                for head in &configuration.heads {
                    om.set_enabled(&head.output, head.enabled);
                }
                om.refresh::<D>();
            }
            config.succeeded();
        }
        Err(err) => {
            tracing::info!(%err, apply, "output configuration refused");
            config.failed();
        }
    }
}

fn validate(config: &OutputConfiguration) -> Result<(), OutputConfigError> {
    if !config.heads.iter().any(|h| h.enabled) {
        return Err(OutputConfigError::NoOutputs);
    }
    for head in &config.heads {
        if let Some(ModeRequest::Custom { size, .. }) = head.mode
            && !(MODE_SIDE_LIMITS.contains(&size.w) && MODE_SIDE_LIMITS.contains(&size.h))
        {
            return Err(OutputConfigError::UnsupportedSize(size));
        }
    }
    Ok(())
}

impl<D: OutputManagementHandler> Dispatch<ZwlrOutputConfigurationHeadV1, ConfigHeadData, D>
    for OutputManagementState
{
    fn request(
        _state: &mut D,
        _client: &Client,
        resource: &ZwlrOutputConfigurationHeadV1,
        request: zwlr_output_configuration_head_v1::Request,
        data: &ConfigHeadData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        use zwlr_output_configuration_head_v1::{Error, Request};
        let Ok(mut props) = data.props.lock() else {
            return;
        };
        let props = &mut *props;
        fn set<T>(resource: &ZwlrOutputConfigurationHeadV1, slot: &mut Option<T>, value: T) {
            if slot.is_some() {
                resource.post_error(Error::AlreadySet, "property was already set");
            } else {
                *slot = Some(value);
            }
        }
        match request {
            Request::SetMode { mode } => {
                let Some(mode) = mode.data::<Mode>().copied() else {
                    return;
                };
                if !HeadSnapshot::of(&data.output, true).modes.contains(&mode) {
                    resource.post_error(Error::InvalidMode, "mode does not belong to this head");
                    return;
                }
                set(resource, &mut props.mode, ModeRequest::Advertised(mode));
            }
            Request::SetCustomMode {
                width,
                height,
                refresh,
            } => {
                if width <= 0 || height <= 0 || refresh < 0 {
                    resource.post_error(
                        Error::InvalidCustomMode,
                        "custom mode has a non-positive size",
                    );
                    return;
                }
                let size = Size::from((width, height));
                set(
                    resource,
                    &mut props.mode,
                    ModeRequest::Custom { size, refresh },
                );
            }
            Request::SetPosition { x, y } => set(resource, &mut props.position, (x, y).into()),
            Request::SetTransform { transform } => match transform {
                WEnum::Value(t) => set(resource, &mut props.transform, Transform::from(t)),
                WEnum::Unknown(_) => {
                    resource.post_error(Error::InvalidTransform, "unknown transform")
                }
            },
            Request::SetScale { scale } => {
                if scale.is_finite() && scale > 0.0 {
                    set(resource, &mut props.scale, scale);
                } else {
                    resource.post_error(Error::InvalidScale, "scale must be positive");
                }
            }
            Request::SetAdaptiveSync { state } => match state {
                WEnum::Value(s) => set(
                    resource,
                    &mut props.adaptive_sync,
                    s == AdaptiveSyncState::Enabled,
                ),
                WEnum::Unknown(_) => resource.post_error(
                    Error::InvalidAdaptiveSyncState,
                    "unknown adaptive sync state",
                ),
            },
            _ => {}
        }
    }
}
