//! The act stage: where accepted mail, replies and notifications go.

pub mod headers;
pub mod pipe;
pub mod smtp_pool;
pub mod transport;
