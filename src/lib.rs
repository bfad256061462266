//! supportgate: an inbound SMTP gateway that lets through only mail from registered agents.
#![forbid(unsafe_code)]

pub mod address;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod directory;
pub mod pipeline;
pub mod policy;
pub mod reply;
pub mod store;
