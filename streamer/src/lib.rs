//! Skerry's streamer: captures the desktop from a Wayland compositor, encodes only what
//! changed, and serves the browser client and its WebSocket on one port.

pub mod desktop;
pub mod wayland;
