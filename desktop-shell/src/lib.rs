//! Skerry's desktop shell: a Wayland client that draws the panel (start menu, taskbar,
//! clock, status area), the wallpaper and the desktop icons through `zwlr_layer_shell_v1`,
//! and lists windows through `zwlr_foreign_toplevel_management_v1`.
//!
//! Everything that can be decided without a compositor (desktop entries, the menu's
//! search, layout, icon lookup, launching) is plain code in its own module; `shell` is the
//! Wayland side that connects them.

pub mod apps;
pub mod desktop_items;
pub mod entry;
pub mod icons;
pub mod launch;
pub mod layout;
pub mod render;
pub mod shell;
