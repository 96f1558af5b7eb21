//! Wayland protocols Skerry's compositor serves that smithay does not implement.
//!
//! The streamer, the desktop shell and stock tools (grim, wlr-randr, wayvnc) reach the
//! compositor only through these standard protocols, so each module follows smithay's own
//! shape: a `XxxManagerState` owning the global, a `XxxHandler` trait the compositor state
//! implements, `Dispatch`/`GlobalDispatch` impls generic over that state, and a
//! `delegate_xxx!` macro. None of them knows how the compositor renders or manages windows;
//! capture protocols are fed rendered images through [`capture::RenderedOutput`].

pub mod capture;
pub mod foreign_toplevel;
pub mod image_copy;
pub mod output_management;
pub mod screencopy;
pub mod virtual_keyboard;
pub mod virtual_pointer;
