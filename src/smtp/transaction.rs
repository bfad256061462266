//! EHLO, MAIL and RCPT: the commands that build a transaction's envelope.

use smtp_proto::{
    EhloResponse, MailFrom, RcptTo, EXT_8BIT_MIME, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING,
    EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME,
    MAIL_SMTPUTF8,
};
use tracing::{info, warn};

use super::address::{check_forward_path, raw_path};
use super::events::LimitKind;
use super::handler::{Envelope, MessageHandler, RcptCheck};
use super::reply::Outcome;
use super::session::Session;

impl<H: MessageHandler> Session<H> {
    pub(crate) fn ehlo(&mut self, host: String) {
        let mut ehlo = EhloResponse::new(self.config.hostname.as_str());
        ehlo.capabilities =
            EXT_PIPELINING | EXT_SIZE | EXT_8BIT_MIME | EXT_SMTP_UTF8 | EXT_ENHANCED_STATUS_CODES;
        if self.config.tls.is_some() && !self.info.tls {
            ehlo.capabilities |= EXT_START_TLS;
        }
        ehlo.size = self.config.limits.max_message_size;
        let mut capabilities = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = ehlo.write(&mut capabilities);
        // smtp-proto's first line is a joke ("you had me at EHLO"); administrators reading a
        // session transcript expect the usual greeting line, so we write that one ourselves.
        let rest = capabilities
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&capabilities[..], |end| &capabilities[end + 1..]);
        let mut out = format!("250-{} Hello\r\n", self.config.hostname).into_bytes();
        out.extend_from_slice(rest);
        self.conn.queue_raw(&out);
        self.config.events.reply_sent(250);
        self.info.helo = Some(host);
        self.envelope = None;
    }

    pub(crate) fn mail(&mut self, from: MailFrom<String>) {
        if self.info.helo.is_none() {
            return self.reply_outcome(Outcome::BadSequence("send EHLO or HELO first"));
        }
        if self.envelope.is_some() {
            return self.reply_outcome(Outcome::BadSequence("nested MAIL command"));
        }
        if from.size > self.config.limits.max_message_size {
            warn!(session = %self.info.session_id, declared = from.size, "declared SIZE over limit");
            self.config.events.limit_hit(LimitKind::MessageSize);
            return self.reply_outcome(Outcome::MessageTooLarge);
        }
        if from.flags & MAIL_BODY_BINARYMIME != 0 {
            return self.reply_outcome(Outcome::UnsupportedParameter);
        }
        self.envelope = Some(Envelope {
            mail_from: (!from.address.is_empty()).then_some(from.address),
            rcpt_to: Vec::new(),
            smtputf8: from.flags & MAIL_SMTPUTF8 != 0,
            body_8bit: from.flags & MAIL_BODY_8BITMIME != 0,
        });
        self.reply_outcome(Outcome::SenderOk);
    }

    /// `to` is `None` when smtp-proto could not parse the path; the raw line is still checked
    /// for relay hacks first so that, e.g., IP literals get the same answer as other hacks.
    pub(crate) fn rcpt(&mut self, line: &[u8], to: Option<RcptTo<String>>) {
        let Some(envelope) = &self.envelope else {
            return self.reply_outcome(Outcome::BadSequence("need MAIL command"));
        };
        if envelope.rcpt_to.len() >= self.config.limits.max_recipients {
            warn!(session = %self.info.session_id, "recipient limit hit");
            self.config.events.limit_hit(LimitKind::Recipients);
            return self.reply_outcome(Outcome::TooManyRecipients);
        }
        if let Some(path) = raw_path(line) {
            if let Err(hack) = check_forward_path(path) {
                info!(
                    session = %self.info.session_id,
                    path = %String::from_utf8_lossy(path),
                    ?hack,
                    "recipient refused: relay hack"
                );
                return self.reply_outcome(Outcome::RelayRefused(hack));
            }
        }
        let Some(to) = to else {
            return self.reply_outcome(Outcome::BadRecipientSyntax);
        };
        match self.handler.check_recipient(&self.info, &to.address) {
            RcptCheck::Accept => {
                if let Some(envelope) = &mut self.envelope {
                    envelope.rcpt_to.push(to.address);
                }
                self.reply_outcome(Outcome::RecipientOk);
            }
            RcptCheck::Reject(reply) => {
                info!(session = %self.info.session_id, rcpt = %to.address, code = reply.code, "recipient refused by handler");
                self.reply(reply);
            }
        }
    }
}
