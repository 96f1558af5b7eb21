//! Skerry's streamer: captures the desktop from a Wayland compositor, encodes only what
//! changed, and serves the browser client and its WebSocket on one port.

pub mod audio;
pub mod clipboard;
pub mod desktop;
pub mod encode;
pub mod files;
pub mod latency;
pub mod pipeline;
pub mod proto;
pub mod server;
pub mod synthetic;
pub mod wayland;
