//! Skerry's compositor: a headless smithay compositor that apps, the desktop shell and the
//! streamer reach only through standard Wayland protocols.
pub mod protocols;
