//! Glue between protocol windows (xdg toplevels, X11 windows) and the pure [`Layout`].
//!
//! Every policy decision is made by the layout; this file turns events into layout calls and
//! turns the layout's answer back into configures, activation states and keyboard focus.
//! It also carries the operations the toplevel-management and output-management protocol
//! modules call (see `hooks.rs`).
//!
//! [`Layout`]: crate::layout::Layout

use smithay::{
    backend::renderer::utils::with_renderer_surface_state,
    desktop::{Window, WindowSurfaceType, layer_map_for_output},
    input::keyboard::KeyboardHandle,
    reexports::{
        wayland_protocols::xdg::shell::server::xdg_toplevel,
        wayland_server::protocol::wl_surface::WlSurface,
    },
    utils::{Rectangle, SERIAL_COUNTER},
    wayland::{
        compositor::{
            TraversalAction, send_surface_state, with_states, with_surface_tree_downward,
        },
        fractional_scale::with_fractional_scale,
        shell::{
            wlr_layer::{KeyboardInteractivity, Layer},
            xdg::XdgToplevelSurfaceData,
        },
    },
};

use crate::{
    hooks::ToplevelInfo,
    layout::{Limits, Mode, Reserved, WindowId},
    state::{Managed, Skerry, logical_size, output_mode},
};

/// Errors from [`Skerry::set_output_mode`].
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("output size {0}x{1} is out of range (1..={max})", max = crate::config::MAX_SIDE)]
    Size(u32, u32),
    #[error("output scale {0} is out of range (0.25..=8)")]
    Scale(f64),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
}

impl Skerry {
    /// Starts managing a window that is ready to be shown. Returns its id.
    pub fn map_window(&mut self, window: Window, x11_surface: Option<WlSurface>) -> WindowId {
        if let Some(id) = self.window_id(&window) {
            return id;
        }
        let id = self.alloc_window_id();
        let size = window.geometry().size;
        let ssd = crate::ssd::wants_ssd(&window);
        let title_h = if ssd && !self.layout.single_app() {
            crate::decoration::TITLE_H
        } else {
            0
        };
        let h = if size.h > 0 { size.h + title_h } else { 0 };
        self.layout.add_window(id, size.w, h);
        let (title, app_id) = window_names(&window);
        let foreign = Some(
            self.foreign_toplevel_list_state
                .new_toplevel::<Self>(title.clone(), app_id.clone()),
        );
        self.windows.insert(
            id,
            Managed {
                window,
                x11_surface,
                foreign,
                title,
                app_id,
                ssd,
            },
        );
        self.update_limits(id);
        self.stats.windows_mapped += 1;
        tracing::info!(window = id.0, "window mapped");
        self.apply_layout();
        id
    }

    /// Stops managing a window (destroyed or unmapped by its client).
    pub fn unmap_window(&mut self, id: WindowId) {
        let Some(managed) = self.windows.remove(&id) else {
            return;
        };
        if let Some(handle) = managed.foreign {
            handle.send_closed();
            self.foreign_toplevel_list_state.remove_toplevel(&handle);
        }
        self.layout.remove_window(id);
        self.decoration_caches.remove(&id);
        tracing::info!(window = id.0, "window unmapped");
        self.apply_layout();
    }

    /// Re-reads a window's size limits from its client.
    pub fn update_limits(&mut self, id: WindowId) {
        let Some(managed) = self.windows.get(&id) else {
            return;
        };
        let (min, max) = if let Some(toplevel) = managed.window.toplevel() {
            with_states(toplevel.wl_surface(), |states| {
                let mut cached = states
                    .cached_state
                    .get::<smithay::wayland::shell::xdg::SurfaceCachedState>();
                let current = cached.current();
                (current.min_size, current.max_size)
            })
        } else if let Some(x11) = managed.window.x11_surface() {
            (
                x11.min_size().unwrap_or_default(),
                x11.max_size().unwrap_or_default(),
            )
        } else {
            return;
        };
        // Limits are the client's content; the layout works with frames.
        let title_h = self.title_height(id);
        let add = |v: i32| if v > 0 { v + title_h } else { v };
        self.layout.set_limits(
            id,
            Limits {
                min_w: min.w,
                min_h: add(min.h),
                max_w: max.w,
                max_h: add(max.h),
            },
        );
    }

    /// A client committed a new size for a floating window, or changed its title.
    pub fn window_committed(&mut self, id: WindowId) {
        let ssd_changed = self.windows.get_mut(&id).is_some_and(|m| {
            let ssd = crate::ssd::wants_ssd(&m.window);
            std::mem::replace(&mut m.ssd, ssd) != ssd
        });
        if ssd_changed {
            self.decoration_caches.remove(&id);
        }
        self.update_limits(id);
        let title_h = self.title_height(id);
        let Some(managed) = self.windows.get_mut(&id) else {
            return;
        };
        let (title, app_id) = window_names(&managed.window);
        let renamed = title != managed.title || app_id != managed.app_id;
        if renamed {
            if let Some(handle) = &managed.foreign {
                handle.send_title(&title);
                handle.send_app_id(&app_id);
                handle.send_done();
            }
            managed.title = title;
            managed.app_id = app_id;
        }
        let size = managed.window.geometry().size;
        // Only a client that has caught up with our last configure chooses its own size;
        // an older buffer committed while a resize is in flight must not undo it.
        let is_wayland = managed.window.toplevel().is_some_and(|t| {
            let sent = t.with_pending_state(|s| s.size);
            t.current_state().size == sent
        });
        if let Some(ws) = self.layout.get(id)
            && ws.mode == Mode::Floating
            && is_wayland
            && size.w > 0
            && size.h > 0
            && (ws.rect.w, ws.rect.h) != (size.w, size.h + title_h)
        {
            self.layout.resize_window(id, size.w, size.h + title_h);
            self.apply_layout();
        } else if renamed || ssd_changed {
            if ssd_changed {
                self.apply_layout();
            }
            self.schedule_render();
            self.notify_toplevels();
        }
    }

    /// Pushes the layout's decisions to the clients: sizes, states, focus, X11 geometry.
    pub fn apply_layout(&mut self) {
        let focus = self.layout.focus();
        for ws in self.layout.windows() {
            let Some(managed) = self.windows.get(&ws.id) else {
                continue;
            };
            let activated = focus == Some(ws.id);
            // Clients are configured to their content: the frame minus the title bar.
            let content = if self.is_decorated(ws.id) {
                crate::decoration::content(ws.rect)
            } else {
                ws.rect
            };
            let rect = Rectangle::new((content.x, content.y).into(), (content.w, content.h).into());
            if let Some(toplevel) = managed.window.toplevel() {
                toplevel.with_pending_state(|state| {
                    let set = |state: &mut smithay::wayland::shell::xdg::ToplevelState,
                               s: xdg_toplevel::State,
                               on: bool| {
                        if on {
                            state.states.set(s);
                        } else {
                            state.states.unset(s);
                        }
                    };
                    set(state, xdg_toplevel::State::Activated, activated);
                    set(
                        state,
                        xdg_toplevel::State::Maximized,
                        ws.mode == Mode::Maximized,
                    );
                    set(
                        state,
                        xdg_toplevel::State::Fullscreen,
                        ws.mode == Mode::Fullscreen || self.layout.single_app(),
                    );
                    state.size = Some(rect.size);
                });
                if toplevel.is_initial_configure_sent() {
                    toplevel.send_pending_configure();
                }
            } else if let Some(x11) = managed.window.x11_surface() {
                let _ = x11.set_activated(activated);
                let _ = x11.set_maximized(ws.mode == Mode::Maximized);
                let _ = x11.set_fullscreen(ws.mode == Mode::Fullscreen);
                if let Err(e) = x11.configure(rect) {
                    tracing::debug!("configuring X11 window failed: {e}");
                }
            }
        }
        let target = self.keyboard_target();
        if let Some(keyboard) = self.seat.get_keyboard() {
            set_keyboard_focus(self, &keyboard, target);
        }
        if let Some(xwm) = self.xwm.as_mut() {
            let stack: Vec<_> = self
                .layout
                .windows()
                .iter()
                .filter_map(|w| self.windows.get(&w.id))
                .filter_map(|m| m.window.x11_surface().cloned())
                .collect();
            if let Some(top) = stack.last() {
                let _ = xwm.raise_window(top);
            }
        }
        self.notify_toplevels();
        self.schedule_render();
    }

    /// Who gets the keyboard. First a layer surface on the top or overlay layer that asks
    /// for it exclusively (a start menu, a launcher, a lock screen), while it shows; then a
    /// layer surface given it (the panel by the Super tap, an on-demand one by a click);
    /// else the layout's focused window.
    pub(crate) fn keyboard_target(&mut self) -> Option<WlSurface> {
        if let Some(exclusive) = self.exclusive_layer() {
            // The grant of a Super tap or a click ends when an exclusive surface takes over,
            // so the keyboard goes back to the window when it closes.
            self.shortcuts.clear_layer_focus();
            return Some(exclusive);
        }
        self.shortcuts.layer_focus().or_else(|| {
            self.layout
                .focus()
                .and_then(|id| self.windows.get(&id))
                .and_then(Managed::surface)
        })
    }

    /// The topmost mapped layer surface with exclusive keyboard interactivity, if any.
    pub(crate) fn exclusive_layer(&self) -> Option<WlSurface> {
        let map = layer_map_for_output(&self.output);
        [Layer::Overlay, Layer::Top].into_iter().find_map(|layer| {
            map.layers_on(layer)
                .rev()
                .find(|l| {
                    l.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
                        && with_renderer_surface_state(l.wl_surface(), |s| s.buffer().is_some())
                            .unwrap_or(false)
                })
                .map(|l| l.wl_surface().clone())
        })
    }

    /// A click landed on `surface`: a layer surface with on-demand keyboard
    /// interactivity takes the keyboard (until a window is clicked or activated).
    pub(crate) fn layer_clicked(&mut self, surface: &WlSurface) {
        let on_demand = {
            let map = layer_map_for_output(&self.output);
            map.layer_for_surface(surface, WindowSurfaceType::ALL)
                .filter(|l| {
                    l.cached_state().keyboard_interactivity == KeyboardInteractivity::OnDemand
                })
                .map(|l| l.wl_surface().clone())
        };
        if let Some(layer) = on_demand {
            self.shortcuts.give_layer_focus(layer);
            self.apply_layout();
        }
    }

    /// The toplevel list for foreign-toplevel management.
    pub fn toplevels(&self) -> Vec<ToplevelInfo> {
        let focus = self.layout.focus();
        self.layout
            .windows()
            .iter()
            .filter_map(|ws| {
                let m = self.windows.get(&ws.id)?;
                Some(ToplevelInfo {
                    id: ws.id,
                    title: m.title.clone(),
                    app_id: m.app_id.clone(),
                    activated: focus == Some(ws.id),
                    minimized: ws.minimized,
                    maximized: ws.mode == Mode::Maximized,
                    fullscreen: ws.mode == Mode::Fullscreen,
                    x11: m.window.x11_surface().is_some(),
                    has_surface: m.surface().is_some(),
                })
            })
            .collect()
    }

    pub(crate) fn notify_toplevels(&mut self) {
        self.sync_wlr_toplevels();
        if self.toplevel_listeners.is_empty() && self.config.stats_file.is_none() {
            return;
        }
        let list = self.toplevels();
        for listener in &mut self.toplevel_listeners {
            listener(&list);
        }
        self.write_stats_file();
    }

    /// Raises, focuses and restores a window.
    pub fn activate_window(&mut self, id: WindowId) {
        self.shortcuts.clear_layer_focus();
        self.layout.focus_window(id);
        self.apply_layout();
    }

    pub fn set_window_minimized(&mut self, id: WindowId, minimized: bool) {
        self.layout.set_minimized(id, minimized);
        self.apply_layout();
    }

    pub fn set_window_maximized(&mut self, id: WindowId, maximized: bool) {
        self.layout.set_maximized(id, maximized);
        self.apply_layout();
    }

    pub fn set_window_fullscreen(&mut self, id: WindowId, fullscreen: bool) {
        self.layout.set_fullscreen(id, fullscreen);
        self.apply_layout();
    }

    /// Asks a window to close (its client decides).
    pub fn close_window(&mut self, id: WindowId) {
        let Some(managed) = self.windows.get(&id) else {
            return;
        };
        if let Some(toplevel) = managed.window.toplevel() {
            toplevel.send_close();
        } else if let Some(x11) = managed.window.x11_surface() {
            let _ = x11.close();
        }
    }

    /// Changes the output's size (pixels) and scale at run time: new offscreen image, full
    /// repaint, maximized/fullscreen windows and layers reconfigured, clients told the scale.
    pub fn set_output_mode(
        &mut self,
        width: u32,
        height: u32,
        scale: f64,
    ) -> Result<(), ModeError> {
        let max = crate::config::MAX_SIDE;
        if !(1..=max).contains(&width) || !(1..=max).contains(&height) {
            return Err(ModeError::Size(width, height));
        }
        if !(0.25..=8.0).contains(&scale) {
            return Err(ModeError::Scale(scale));
        }
        let mode = output_mode(width, height, self.config.fps);
        self.output.add_mode(mode);
        self.output.change_current_state(
            Some(mode),
            None,
            Some(smithay::output::Scale::Fractional(scale)),
            None,
        );
        self.output.set_preferred(mode);
        self.backend
            .resize((width as i32, height as i32).into(), scale)?;
        self.config.width = width;
        self.config.height = height;
        self.config.scale = scale;
        let (lw, lh) = logical_size(width, height, scale);
        self.layout.set_output_size(lw, lh);
        self.arrange_layers();
        let surfaces: Vec<WlSurface> = self
            .windows
            .values()
            .filter_map(Managed::surface)
            .chain(
                layer_map_for_output(&self.output)
                    .layers()
                    .map(|l| l.wl_surface().clone()),
            )
            .collect();
        for surface in &surfaces {
            self.send_scale(surface);
        }
        self.apply_layout();
        self.output_mode_changed();
        for listener in &mut self.mode_listeners {
            listener(width, height, scale);
        }
        tracing::info!(width, height, scale, "output mode changed");
        Ok(())
    }

    /// Tells a surface tree the output's scale (fractional-scale and preferred buffer scale)
    /// and that it is on the output.
    pub fn send_scale(&self, surface: &WlSurface) {
        let scale = self.scale();
        let output = self.output.clone();
        with_surface_tree_downward(
            surface,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |surface, states, _| {
                output.enter(surface);
                with_fractional_scale(states, |fs| fs.set_preferred_scale(scale));
                send_surface_state(
                    surface,
                    states,
                    scale.ceil() as i32,
                    smithay::utils::Transform::Normal,
                );
            },
            |_, _, _| true,
        );
    }

    /// Recomputes layer-shell placement and the exclusive zones the layout must avoid.
    pub fn arrange_layers(&mut self) {
        let (usable, output_size) = {
            let mut map = layer_map_for_output(&self.output);
            map.arrange();
            (map.non_exclusive_zone(), self.layout.output())
        };
        let reserved = Reserved {
            top: usable.loc.y,
            left: usable.loc.x,
            bottom: output_size.h - usable.loc.y - usable.size.h,
            right: output_size.w - usable.loc.x - usable.size.w,
        };
        if self.layout.usable()
            != crate::layout::Rect::new(usable.loc.x, usable.loc.y, usable.size.w, usable.size.h)
        {
            self.layout.set_reserved(reserved);
        }
    }

    /// Writes counters and windows to `SKERRY_STATS_FILE` (atomically, by rename). Meant for
    /// tests and diagnostics: it is written after every render while configured.
    pub fn write_stats_file(&self) {
        let Some(path) = &self.config.stats_file else {
            return;
        };
        let snapshot = serde_json::json!({
            "stats": self.stats,
            "toplevels": self.toplevels(),
            "socket": self.socket_name.to_string_lossy(),
            "x11_display": self.xdisplay,
            "x11_authority": self.xauthority,
        });
        let tmp = path.with_extension("tmp");
        let result =
            std::fs::write(&tmp, snapshot.to_string()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            tracing::warn!("cannot write stats file {}: {e}", path.display());
        }
    }
}

fn set_keyboard_focus(
    state: &mut Skerry,
    keyboard: &KeyboardHandle<Skerry>,
    target: Option<WlSurface>,
) {
    if keyboard.current_focus() != target {
        keyboard.set_focus(state, target, SERIAL_COUNTER.next_serial());
    }
}

/// Title and app id (X11: class) of a window.
pub(crate) fn window_names(window: &Window) -> (String, String) {
    if let Some(toplevel) = window.toplevel() {
        with_states(toplevel.wl_surface(), |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .and_then(|d| d.lock().ok())
                .map(|d| {
                    (
                        d.title.clone().unwrap_or_default(),
                        d.app_id.clone().unwrap_or_default(),
                    )
                })
                .unwrap_or_default()
        })
    } else if let Some(x11) = window.x11_surface() {
        (x11.title(), x11.class())
    } else {
        Default::default()
    }
}
