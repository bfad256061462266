//! Auto-replies (SPEC §5) and the P4 notification to owner and admins (SPEC §3).
//!
//! - [`template`]: the file syntax, `{{variable}}` and `{{#if notified}}…{{else}}…{{/if}}`.
//! - [`templates`]: the set of files, one per reason and language, and their loader.
//! - [`language`]: which language a reply is written in.

pub mod language;
pub mod template;
pub mod templates;

pub use language::choose_language;
pub use templates::{TemplateName, Templates};

/// The name of the P4 notification template (`fr/notify-privileged`).
pub const NOTIFY_TEMPLATE: &str = "notify-privileged";
