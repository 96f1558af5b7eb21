//! The Wayland side of the shell: one state struct holding a field per protocol (as
//! smallvil does for compositors), the layer surfaces, and the event loop.
//!
//! Idle costs nothing: the loop sleeps in `epoll` until the compositor, the clock timer
//! (once a minute, aligned to the minute) or the `~/Desktop` watcher has something, and a
//! surface is redrawn only when what it shows changed.

mod handlers;
mod input;
mod protocols;
mod surface;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use smithay_client_toolkit::compositor::CompositorState;
use smithay_client_toolkit::output::OutputState;
use smithay_client_toolkit::reexports::calloop::EventLoop;
use smithay_client_toolkit::reexports::calloop::channel;
use smithay_client_toolkit::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay_client_toolkit::reexports::calloop_wayland_source::WaylandSource;
use smithay_client_toolkit::registry::RegistryState;
use smithay_client_toolkit::seat::SeatState;
use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shell::wlr_layer::{Anchor, KeyboardInteractivity, Layer, LayerShell};
use smithay_client_toolkit::shm::Shm;
use smithay_client_toolkit::shm::slot::SlotPool;
use tiny_skia::Pixmap;
use wayland_client::globals::registry_queue_init;
use wayland_client::protocol::{wl_keyboard, wl_pointer, wl_seat, wl_surface::WlSurface};
use wayland_client::{Connection, QueueHandle};
use wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1;
use wayland_protocols::wp::viewporter::client::wp_viewporter::WpViewporter;
use wayland_protocols_wlr::foreign_toplevel::v1::client::zwlr_foreign_toplevel_manager_v1::ZwlrForeignToplevelManagerV1;

use crate::apps::{self, Menu};
use crate::desktop_items::{self, DesktopItem};
use crate::entry::DesktopEntry;
use crate::layout;
use crate::render::menu::MenuState;
use crate::render::panel::{Feedback, PanelView, TaskView};
use crate::render::{self, Painter};
use protocols::Toplevel;
use surface::{Role, ShellSurface};

/// Why the shell could not run.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot connect to the Wayland compositor: {0}")]
    Connect(#[from] wayland_client::ConnectError),
    #[error("cannot read the compositor's globals: {0}")]
    Globals(#[from] wayland_client::globals::GlobalError),
    #[error("the compositor lacks {0}")]
    Missing(&'static str),
    #[error("Wayland connection: {0}")]
    Dispatch(#[from] wayland_client::DispatchError),
    #[error("event loop: {0}")]
    EventLoop(String),
    #[error("shared memory pool: {0}")]
    Pool(#[from] smithay_client_toolkit::shm::CreatePoolError),
}

/// The shell's settings, from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub wallpaper: Option<PathBuf>,
    pub desktop_apps: Vec<String>,
    pub desktop_dir: PathBuf,
    pub data_dirs: Vec<PathBuf>,
    pub locale: String,
    pub path_var: String,
}

impl Config {
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
        Self {
            wallpaper: std::env::var_os("SKERRY_WALLPAPER")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            desktop_apps: desktop_items::configured_apps(
                std::env::var("SKERRY_DESKTOP_APPS").ok().as_deref(),
            ),
            desktop_dir: home.join("Desktop"),
            data_dirs: apps::data_dirs(),
            locale: crate::entry::current_locale(),
            path_var: std::env::var("PATH").unwrap_or_default(),
        }
    }
}

/// Where the pointer is on the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelTarget {
    Start,
    Task(usize),
}

pub struct Shell {
    registry: RegistryState,
    seat_state: SeatState,
    output_state: OutputState,
    compositor: CompositorState,
    shm: Shm,
    layer_shell: LayerShell,
    pool: SlotPool,
    fractional: Option<WpFractionalScaleManagerV1>,
    viewporter: Option<WpViewporter>,
    _toplevel_manager: Option<ZwlrForeignToplevelManagerV1>,

    panel: ShellSurface,
    background: ShellSurface,
    menu_surface: Option<ShellSurface>,

    seat: Option<wl_seat::WlSeat>,
    pointer: Option<wl_pointer::WlPointer>,
    keyboard: Option<wl_keyboard::WlKeyboard>,
    /// Which of the shell's surfaces has the keyboard.
    keyboard_focus: Option<Role>,
    /// Super is down on a shell surface, with no other key since.
    super_down: bool,

    painter: Painter,
    config: Config,
    installed: BTreeMap<String, DesktopEntry>,
    menu: Menu,
    menu_state: MenuState,
    toplevels: Vec<Toplevel>,
    items: Vec<DesktopItem>,
    desktop_hover: Option<usize>,
    desktop_selected: Option<usize>,
    last_click: Option<(usize, u32)>,
    panel_hover: Option<PanelTarget>,
    panel_pressed: Option<PanelTarget>,
    wallpaper: Option<Pixmap>,
    clock: (String, String),
    ready_sent: bool,
    /// The compositor closed a surface the shell cannot live without.
    closed: bool,
}

/// The clock's two lines for now (local time, from `TZ`).
fn clock_text() -> (String, String) {
    let now = chrono::Local::now();
    (
        now.format("%H:%M").to_string(),
        now.format("%a %d %b").to_string(),
    )
}

/// Time until the next minute starts, so the clock flips on the minute.
fn until_next_minute() -> Duration {
    use chrono::Timelike;
    let now = chrono::Local::now();
    let into = Duration::from_secs(now.second() as u64)
        + Duration::from_nanos(now.nanosecond() as u64 % 1_000_000_000);
    Duration::from_secs(60).saturating_sub(into) + Duration::from_millis(20)
}

/// Connects to the compositor named by the environment and runs the shell until the
/// compositor goes away.
pub fn run(config: Config) -> Result<(), ShellError> {
    let conn = Connection::connect_to_env()?;
    let (globals, queue) = registry_queue_init::<Shell>(&conn)?;
    let qh: QueueHandle<Shell> = queue.handle();

    let compositor =
        CompositorState::bind(&globals, &qh).map_err(|_| ShellError::Missing("wl_compositor"))?;
    let layer_shell =
        LayerShell::bind(&globals, &qh).map_err(|_| ShellError::Missing("zwlr_layer_shell_v1"))?;
    let shm = Shm::bind(&globals, &qh).map_err(|_| ShellError::Missing("wl_shm"))?;
    let fractional = globals
        .bind::<WpFractionalScaleManagerV1, _, _>(&qh, 1..=1, ())
        .ok();
    let viewporter = globals.bind::<WpViewporter, _, _>(&qh, 1..=1, ()).ok();
    let toplevel_manager = globals
        .bind::<ZwlrForeignToplevelManagerV1, _, _>(&qh, 1..=3, ())
        .ok();
    if toplevel_manager.is_none() {
        tracing::warn!("no zwlr_foreign_toplevel_manager_v1: the taskbar stays empty");
    }
    let pool = SlotPool::new(1024 * 1024 * 4, &shm)?;

    let make = |role: Role, layer: Layer, ns: &str| {
        let wl = compositor.create_surface(&qh);
        let (viewport, frac) = match (&fractional, &viewporter) {
            (Some(f), Some(v)) => (
                Some(v.get_viewport(&wl, &qh, ())),
                Some(f.get_fractional_scale(&wl, &qh, wl.clone())),
            ),
            _ => (None, None),
        };
        let ls = layer_shell.create_layer_surface(&qh, wl, layer, Some(ns), None);
        ShellSurface::new(role, ls, viewport, frac)
    };

    // Background: the whole output, under everything, ignoring the panel's zone so the
    // wallpaper continues under the translucent panel.
    let background = make(Role::Background, Layer::Background, "skerry-desktop");
    background
        .layer
        .set_anchor(Anchor::TOP | Anchor::BOTTOM | Anchor::LEFT | Anchor::RIGHT);
    background.layer.set_exclusive_zone(-1);
    background
        .layer
        .set_keyboard_interactivity(KeyboardInteractivity::None);
    background.layer.commit();

    // Panel: the bottom edge, reserving its height so windows do not cover it.
    let panel = make(Role::Panel, Layer::Top, "skerry-panel");
    panel
        .layer
        .set_anchor(Anchor::BOTTOM | Anchor::LEFT | Anchor::RIGHT);
    panel.layer.set_size(0, layout::PANEL_HEIGHT);
    panel.layer.set_exclusive_zone(layout::PANEL_HEIGHT as i32);
    panel
        .layer
        .set_keyboard_interactivity(KeyboardInteractivity::None);
    panel.layer.commit();

    let installed = apps::load_entries(&config.data_dirs, &config.locale);
    let menu = Menu::new(installed.values().cloned(), &config.path_var);
    tracing::info!(apps = menu.entries.len(), "applications found");
    let wallpaper = config
        .wallpaper
        .as_deref()
        .and_then(render::desktop::load_wallpaper);
    let items = desktop_items::desktop_items(
        &config.desktop_apps,
        &installed,
        &config.desktop_dir,
        &config.locale,
    );

    let mut shell = Shell {
        registry: RegistryState::new(&globals),
        seat_state: SeatState::new(&globals, &qh),
        output_state: OutputState::new(&globals, &qh),
        compositor,
        shm,
        layer_shell,
        pool,
        fractional,
        viewporter,
        _toplevel_manager: toplevel_manager,
        panel,
        background,
        menu_surface: None,
        seat: None,
        pointer: None,
        keyboard: None,
        keyboard_focus: None,
        super_down: false,
        painter: Painter::new(config.data_dirs.clone()),
        installed,
        menu,
        menu_state: MenuState::default(),
        toplevels: Vec::new(),
        items,
        desktop_hover: None,
        desktop_selected: None,
        last_click: None,
        panel_hover: None,
        panel_pressed: None,
        wallpaper,
        clock: clock_text(),
        ready_sent: false,
        closed: false,
        config,
    };

    let mut event_loop: EventLoop<Shell> =
        EventLoop::try_new().map_err(|e| ShellError::EventLoop(e.to_string()))?;
    let handle = event_loop.handle();
    WaylandSource::new(conn.clone(), queue)
        .insert(handle.clone())
        .map_err(|e| ShellError::EventLoop(e.to_string()))?;

    handle
        .insert_source(Timer::from_duration(until_next_minute()), |_, _, shell| {
            shell.clock = clock_text();
            shell.mark_panel();
            TimeoutAction::ToDuration(until_next_minute())
        })
        .map_err(|e| ShellError::EventLoop(e.to_string()))?;

    let (tx, rx) = channel::channel::<()>();
    let _watcher = match desktop_items::watch(&shell.config.desktop_dir, move || {
        let _ = tx.send(());
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the desktop folder; icons will not update");
            None
        }
    };
    handle
        .insert_source(rx, |ev, _, shell| {
            if let channel::Event::Msg(()) = ev {
                shell.reload_desktop_items();
            }
        })
        .map_err(|e| ShellError::EventLoop(e.to_string()))?;

    let (tx, rx) = channel::channel::<()>();
    let _apps_watcher = match apps::watch(&shell.config.data_dirs, move || {
        let _ = tx.send(());
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the applications; the menu will not update");
            None
        }
    };
    handle
        .insert_source(rx, |ev, _, shell| {
            if let channel::Event::Msg(()) = ev {
                shell.reload_apps();
            }
        })
        .map_err(|e| ShellError::EventLoop(e.to_string()))?;

    loop {
        event_loop
            .dispatch(None, &mut shell)
            .map_err(|e| ShellError::EventLoop(e.to_string()))?;
        if shell.closed {
            return Err(ShellError::Missing("an output for the panel"));
        }
        shell.redraw_all();
        if let Err(e) = conn.flush() {
            return Err(ShellError::EventLoop(format!("flush: {e}")));
        }
    }
}

impl Shell {
    fn mark_panel(&mut self) {
        self.panel.dirty = true;
    }

    fn mark_menu(&mut self) {
        if let Some(m) = &mut self.menu_surface {
            m.dirty = true;
        }
    }

    fn surface_mut(&mut self, wl: &WlSurface) -> Option<&mut ShellSurface> {
        if self.panel.layer.wl_surface() == wl {
            return Some(&mut self.panel);
        }
        if self.background.layer.wl_surface() == wl {
            return Some(&mut self.background);
        }
        self.menu_surface
            .as_mut()
            .filter(|m| m.layer.wl_surface() == wl)
    }

    fn role_of(&self, wl: &WlSurface) -> Option<Role> {
        if self.panel.layer.wl_surface() == wl {
            Some(Role::Panel)
        } else if self.background.layer.wl_surface() == wl {
            Some(Role::Background)
        } else if self
            .menu_surface
            .as_ref()
            .is_some_and(|m| m.layer.wl_surface() == wl)
        {
            Some(Role::Menu)
        } else {
            None
        }
    }

    /// The windows the taskbar shows, in the order they appeared.
    fn visible_toplevels(&self) -> Vec<&Toplevel> {
        self.toplevels.iter().filter(|t| t.ready).collect()
    }

    fn icon_for_app_id(&self, app_id: &str) -> Option<String> {
        Menu::find_by_app_id(self.installed.values(), app_id)
            .and_then(|e| e.icon.clone())
            .or_else(|| (!app_id.is_empty()).then(|| app_id.to_string()))
    }

    fn panel_view(&self) -> PanelView {
        let tasks = self
            .visible_toplevels()
            .iter()
            .enumerate()
            .map(|(i, t)| TaskView {
                title: if t.title.is_empty() {
                    t.app_id.clone()
                } else {
                    t.title.clone()
                },
                icon: self.icon_for_app_id(&t.app_id),
                active: t.activated && !t.minimized,
                minimized: t.minimized,
                feedback: self.feedback(PanelTarget::Task(i)),
            })
            .collect();
        PanelView {
            start: self.feedback(PanelTarget::Start),
            menu_open: self.menu_surface.is_some(),
            tasks,
            time: self.clock.0.clone(),
            date: self.clock.1.clone(),
            viewers: None,
        }
    }

    fn feedback(&self, target: PanelTarget) -> Feedback {
        if self.panel_pressed == Some(target) {
            Feedback::Pressed
        } else if self.panel_hover == Some(target) {
            Feedback::Hover
        } else {
            Feedback::None
        }
    }

    fn redraw_all(&mut self) {
        if self.panel.dirty && self.panel.configured {
            let view = self.panel_view();
            let painter = &mut self.painter;
            self.panel.redraw(&mut self.pool, |pm, size, scale| {
                render::panel::draw(painter, pm, &view, size.0 as f32, scale);
            });
            if !self.ready_sent {
                self.ready_sent = true;
                // The supervisor may wait for this (NOTIFY_SOCKET); without it, a no-op.
                if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
                    tracing::debug!(error = %e, "sd_notify");
                }
                tracing::info!("panel shown");
            }
        }
        if self.background.dirty && self.background.configured {
            let painter = &mut self.painter;
            let (items, hover, sel, wp) = (
                &self.items,
                self.desktop_hover,
                self.desktop_selected,
                self.wallpaper.as_ref(),
            );
            self.background.redraw(&mut self.pool, |pm, size, scale| {
                render::desktop::draw_wallpaper(pm, wp);
                let h = size.1.saturating_sub(layout::PANEL_HEIGHT) as f32;
                render::desktop::draw_icons(painter, pm, items, h, hover, sel, scale);
            });
        }
        if let Some(m) = &mut self.menu_surface {
            let painter = &mut self.painter;
            let (menu, st) = (&self.menu, &self.menu_state);
            m.redraw(&mut self.pool, |pm, _, scale| {
                render::menu::draw(painter, pm, menu, st, scale);
            });
        }
    }

    /// Re-reads the installed applications (a package was installed or removed).
    fn reload_apps(&mut self) {
        let installed = apps::load_entries(&self.config.data_dirs, &self.config.locale);
        if installed == self.installed {
            return;
        }
        self.menu.entries = Menu::new(installed.values().cloned(), &self.config.path_var).entries;
        tracing::info!(apps = self.menu.entries.len(), "applications changed");
        self.installed = installed;
        self.menu_state.hovered = None;
        self.select_first();
        self.mark_menu();
        self.mark_panel();
        self.reload_desktop_items();
    }

    fn reload_desktop_items(&mut self) {
        let items = desktop_items::desktop_items(
            &self.config.desktop_apps,
            &self.installed,
            &self.config.desktop_dir,
            &self.config.locale,
        );
        if items != self.items {
            tracing::debug!(count = items.len(), "desktop icons changed");
            self.items = items;
            self.desktop_hover = None;
            self.desktop_selected = None;
            self.background.dirty = true;
        }
    }

    fn open_menu(&mut self, qh: &QueueHandle<Self>) {
        if self.menu_surface.is_some() {
            return;
        }
        let wl = self.compositor.create_surface(qh);
        let (viewport, frac) = match (&self.fractional, &self.viewporter) {
            (Some(f), Some(v)) => (
                Some(v.get_viewport(&wl, qh, ())),
                Some(f.get_fractional_scale(&wl, qh, wl.clone())),
            ),
            _ => (None, None),
        };
        let ls =
            self.layer_shell
                .create_layer_surface(qh, wl, Layer::Top, Some("skerry-menu"), None);
        ls.set_anchor(Anchor::BOTTOM | Anchor::LEFT);
        ls.set_size(layout::MENU_WIDTH, layout::MENU_HEIGHT);
        ls.set_margin(0, 0, 4, 4);
        // The search box takes typing as soon as the menu opens.
        ls.set_keyboard_interactivity(KeyboardInteractivity::Exclusive);
        ls.commit();
        tracing::debug!("menu opened");
        let mut s = ShellSurface::new(Role::Menu, ls, viewport, frac);
        s.int_scale = self.panel.int_scale;
        self.menu_surface = Some(s);
        self.menu.query.clear();
        self.menu_state = MenuState::default();
        self.select_first();
        self.mark_panel();
    }

    fn close_menu(&mut self) {
        if self.menu_surface.take().is_some() {
            tracing::debug!("menu closed");
            self.mark_panel();
        }
    }

    /// Puts the keyboard selection on the first application row.
    fn select_first(&mut self) {
        self.menu_state.selected = self
            .menu
            .rows()
            .iter()
            .position(|r| matches!(r, apps::MenuRow::App(_)));
        self.menu_state.scroll = 0.0;
    }
}
