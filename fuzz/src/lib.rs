//! The checks behind the fuzz targets: one module per target, each a plain function from bytes
//! to "no panic and every invariant holds". The `fuzz_targets/` binaries only call them, and
//! `tests/fuzz_regressions.rs` in the main crate includes these same files (`#[path]`) to replay
//! the seeds and every crashing input on stable Rust.

pub mod config_parser;
pub mod data_reader;
pub mod directory_parser;
pub mod message_decision;
pub mod milter_codec;
pub mod smtp_session;
pub mod spool_record;
