//! Skerry's init and service supervisor, as a library so its parts are tested one by one:
//! configuration ([`config`], [`user_settings`], [`services`]), the decisions ([`machine`]),
//! the machine it runs on ([`gpu`], [`user`], [`state_dir`], [`secrets`],
//! [`privileges`]), and the loop
//! that carries decisions out ([`runner`]).

pub mod config;
pub mod gpu;
pub mod machine;
pub mod notify;
pub mod privileges;
pub mod runner;
pub mod secrets;
pub mod services;
pub mod spawn;
pub mod state_dir;
pub mod status;
pub mod user;
pub mod user_settings;
