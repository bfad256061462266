//! Auto-replies (SPEC §5) and the P4 notification to owner and admins (SPEC §3).
//!
//! Pure except for [`Templates::load`], which reads the template files: the clock and the
//! Message-ID token are passed in, and the result is an [`OutgoingMessage`] for any transport.
//!
//! - [`template`]: the file syntax, `{{variable}}` and `{{#if notified}}…{{else}}…{{/if}}`.
//! - [`templates`]: the set of files, one per reason and language, and their loader.
//! - [`language`]: which language a reply is written in.
//! - [`compose`]: the reply and notification messages.
//! - [`approval`]: the messages of an approval (SPEC §11).
//! - `settings`: [`ReplySettings`], `[replies]` once `config` has validated it.
//! - `headers`: sanitising values copied from the incoming mail, RFC 2047, quoted-printable.
//!
//! Template variables: `account_name`, `sign_in_url`, `reason`, `reason_text`,
//! `original_subject`, `support_address`, `support_local`, `support_domain`, `category`,
//! `billing_contact`, and `sender` in `notify-privileged` and `approval-request` only, with
//! `approve_address`, `decline_address` and `text_start` (the request's start, quoted) in
//! `approval-request` only. Condition: `notified` (P4, owner and admins told).

pub mod approval;
pub mod compose;
mod headers;
pub mod language;
mod settings;
pub mod template;
pub mod templates;
#[cfg(test)]
mod tests;

pub use approval::{compose_approval, ApprovalNotice, ApprovalTemplate};
pub use compose::{
    compose_notification, compose_reply, ComposeError, NotificationInput, OutgoingMessage,
    ReplyInput,
};
pub use headers::date as rfc5322_date;
pub use language::choose_language;
pub use settings::{ReplySettings, ReplyTransport, NOTIFY_TEMPLATE};
pub use templates::{TemplateName, Templates};
