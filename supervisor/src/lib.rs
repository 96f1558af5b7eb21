//! Skerry's init and service supervisor, as a library so its parts are tested one by one:
//! configuration ([`config`], [`services`]), the decisions ([`machine`]), the machine it
//! runs on ([`gpu`], [`user`]), and the loop that carries decisions out ([`runner`]).

pub mod config;
pub mod gpu;
pub mod machine;
pub mod notify;
pub mod runner;
pub mod services;
pub mod spawn;
pub mod status;
pub mod user;
