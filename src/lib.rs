//! supportgate: an inbound SMTP gateway that lets through only mail from registered agents.
#![forbid(unsafe_code)]
pub mod smtp;
