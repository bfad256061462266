//! Delivery: where accepted mail, replies and notifications go. [`Target`] is the interface;
//! `maildir`, `relay` (`smtp://`), `mx` and `pipe` implement it, [`build`] turns the
//! configuration into targets, and [`recording::RecordingTarget`] is the test double.
//! [`headers`] writes the trace headers of forwarded mail.

pub mod build;
mod envelope;
pub mod headers;
pub mod maildir;
pub mod mx;
pub mod pipe;
pub mod recording;
pub mod relay;
mod smtp_client;
mod smtp_pool;
pub mod target;

pub use target::{Delivery, DeliveryContext, DeliveryError, Parcel, Target};
