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
use super::xforward;

impl<H: MessageHandler> Session<H> {
    pub(crate) fn ehlo(&mut self, host: String) {
        let mut ehlo = EhloResponse::new(self.config.hostname.as_str());
        ehlo.capabilities =
            EXT_PIPELINING | EXT_SIZE | EXT_8BIT_MIME | EXT_SMTP_UTF8 | EXT_ENHANCED_STATUS_CODES;
        if self.config.tls.is_some() && !self.info.tls {
            ehlo.capabilities |= EXT_START_TLS;
        }
        let xforward = self.xforward_allowed();
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
        if xforward {
            out.extend_from_slice(format!("250-{}\r\n", xforward::EHLO_KEYWORD).as_bytes());
        }
        out.extend_from_slice(rest);
        self.conn.queue_raw(&out);
        self.config.events.reply_sent(250);
        self.info.helo = Some(host);
        self.envelope = None;
    }

    fn xforward_allowed(&self) -> bool {
        xforward::allowed(self.info.peer.ip(), &self.config.xforward_from)
    }

    /// XFORWARD from a trusted proxy: the original client, for the next transaction. From
    /// anyone else it is an unknown command, as it is not advertised to them.
    pub(crate) fn xforward(&mut self, line: &[u8]) {
        if !self.xforward_allowed() {
            warn!(session = %self.info.session_id, peer = %self.info.peer, "XFORWARD refused: peer not in server.xforward_from");
            return self.reply_outcome(Outcome::UnknownCommand);
        }
        if self.envelope.is_some() {
            return self.reply_outcome(Outcome::BadSequence("XFORWARD inside a transaction"));
        }
        match xforward::parse(line, &mut self.forwarded) {
            Ok(()) => {
                let f = &self.forwarded;
                let addr = f.addr.map_or_else(String::new, |a| a.to_string());
                info!(
                    session = %self.info.session_id,
                    addr,
                    helo = f.helo.as_deref().unwrap_or(""),
                    name = f.name.as_deref().unwrap_or(""),
                    "xforward"
                );
                self.reply_outcome(Outcome::Ok);
            }
            Err(reason) => {
                warn!(session = %self.info.session_id, reason, "XFORWARD refused: bad syntax");
                self.reply_outcome(Outcome::SyntaxError);
            }
        }
    }

    /// Why MAIL cannot start a transaction now, if it cannot.
    fn mail_out_of_sequence(&self) -> Option<Outcome> {
        if self.info.helo.is_none() {
            Some(Outcome::BadSequence("send EHLO or HELO first"))
        } else if self.envelope.is_some() {
            Some(Outcome::BadSequence("nested MAIL command"))
        } else {
            None
        }
    }

    pub(crate) fn mail(&mut self, line: &[u8], from: MailFrom<String>) {
        if let Some(outcome) = self.mail_out_of_sequence() {
            return self.reply_outcome(outcome);
        }
        if from.size > self.config.limits.max_message_size {
            warn!(session = %self.info.session_id, declared = from.size, "declared SIZE over limit");
            self.config.events.limit_hit(LimitKind::MessageSize);
            return self.reply_outcome(Outcome::MessageTooLarge);
        }
        if from.flags & MAIL_BODY_BINARYMIME != 0 {
            return self.reply_outcome(Outcome::UnsupportedParameter);
        }
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        if let Err(outcome) = check_address_charset(line, &from.address, smtputf8) {
            info!(session = %self.info.session_id, from = %from.address.escape_debug(), ?outcome, "sender refused");
            return self.reply_outcome(match outcome {
                Charset::NonAsciiWithoutSmtpUtf8 => Outcome::NonAsciiAddress,
                Charset::NotUtf8 => Outcome::BadSenderSyntax,
            });
        }
        self.envelope = Some(Envelope {
            mail_from: (!from.address.is_empty()).then_some(from.address),
            rcpt_to: Vec::new(),
            smtputf8,
            body_8bit: from.flags & MAIL_BODY_8BITMIME != 0,
        });
        self.reply_outcome(Outcome::SenderOk);
    }

    /// MAIL with a `SIZE=` too large for a number (smtp-proto cannot parse it): over any
    /// limit, so the same `552 5.3.4` as a declared size over ours.
    pub(crate) fn mail_too_large(&mut self) {
        if let Some(outcome) = self.mail_out_of_sequence() {
            return self.reply_outcome(outcome);
        }
        warn!(session = %self.info.session_id, "declared SIZE overflows");
        self.config.events.limit_hit(LimitKind::MessageSize);
        self.reply_outcome(Outcome::MessageTooLarge);
    }

    /// `to` is `None` when smtp-proto could not parse the path; the raw line is still checked
    /// for relay hacks first so that, e.g., IP literals get the same answer as other hacks.
    pub(crate) fn rcpt(&mut self, line: &[u8], to: Option<RcptTo<String>>) {
        let Some(envelope) = &self.envelope else {
            return self.reply_outcome(Outcome::BadSequence("need MAIL command"));
        };
        let smtputf8 = envelope.smtputf8;
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
        if let Err(outcome) = check_address_charset(line, &to.address, smtputf8) {
            info!(session = %self.info.session_id, rcpt = %to.address.escape_debug(), ?outcome, "recipient refused");
            return self.reply_outcome(match outcome {
                Charset::NonAsciiWithoutSmtpUtf8 => Outcome::NonAsciiAddress,
                Charset::NotUtf8 => Outcome::BadRecipientSyntax,
            });
        }
        match self.handler.check_recipient(&self.client(), &to.address) {
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

/// Why an address's characters are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Non-ASCII in a transaction without `SMTPUTF8`: `553 5.6.7` (RFC 6531 §3.5).
    NonAsciiWithoutSmtpUtf8,
    /// Bytes that are not UTF-8 (smtp-proto would have replaced them silently).
    NotUtf8,
}

/// `address` as parsed from `line`; the raw path is checked too, since the parsed one has
/// already been through a lossy UTF-8 conversion.
fn check_address_charset(line: &[u8], address: &str, smtputf8: bool) -> Result<(), Charset> {
    let raw = raw_path(line).unwrap_or_default();
    if address.is_ascii() && raw.is_ascii() {
        Ok(())
    } else if !smtputf8 {
        Err(Charset::NonAsciiWithoutSmtpUtf8)
    } else if std::str::from_utf8(raw).is_err() {
        Err(Charset::NotUtf8)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_addresses_need_smtputf8() {
        let line = "MAIL FROM:<jörg@example.org>\r\n".as_bytes();
        assert_eq!(
            check_address_charset(line, "jörg@example.org", false),
            Err(Charset::NonAsciiWithoutSmtpUtf8)
        );
        assert_eq!(
            check_address_charset(line, "jörg@example.org", true),
            Ok(())
        );
        let latin1 = b"MAIL FROM:<j\xf6rg@example.org> SMTPUTF8\r\n";
        assert_eq!(
            check_address_charset(latin1, "j\u{fffd}rg@example.org", true),
            Err(Charset::NotUtf8)
        );
        assert_eq!(
            check_address_charset(b"MAIL FROM:<a@b>", "a@b", false),
            Ok(())
        );
    }
}
