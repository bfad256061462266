//! The DATA phase: after `354`, the message is read under its deadline, measured by the DATA
//! reader and, if it is whole and within the limits, handed to the handler for the final reply.

use tokio::time::Instant;
use tracing::{info, warn};

use super::data::{DataOutcome, DataProblem, DataReader};
use super::deadline::DataDeadline;
use super::events::LimitKind;
use super::handler::MessageHandler;
use super::reply::Outcome;
use super::session::{Interrupted, Session};

impl<H: MessageHandler> Session<H> {
    /// After `354`: reads to the real end of data, then lets the handler decide.
    pub(crate) async fn data(&mut self) -> Result<(), Interrupted> {
        let limits = &self.config.limits;
        let mut reader = DataReader::new(limits.max_message_size, self.config.bare_line_endings)
            .with_header_limits(limits.max_header_size, limits.max_header_count);
        let mut deadline = DataDeadline::new(
            Instant::now(),
            limits.timeouts.data_block,
            limits.min_data_rate,
            u64::try_from(limits.max_message_size).unwrap_or(u64::MAX),
        );
        let outcome = loop {
            if !self.conn.input.is_empty() {
                let progress = reader.feed(&self.conn.input);
                self.conn.input.drain(..progress.consumed);
                if let Some(outcome) = progress.outcome {
                    break outcome;
                }
            }
            // EOF here drops the reader: a partial message goes nowhere.
            let received = self.wait_for_input(deadline.deadline()).await?;
            deadline.received(received, Instant::now());
        };
        let Some(envelope) = self.envelope.take() else {
            return Ok(());
        };
        // XFORWARD describes one transaction.
        let client = self.client();
        self.forwarded = Default::default();
        match outcome {
            DataOutcome::Complete(message) => {
                let size = message.len();
                let deliver = self.handler.deliver(&client, &envelope, message);
                let limit = self.config.limits.timeouts.data_termination;
                let reply = match tokio::time::timeout(limit, deliver).await {
                    Ok(reply) => reply,
                    Err(_) => {
                        warn!(session = %self.info.session_id, "handler timeout");
                        self.config.events.limit_hit(LimitKind::HandlerTimeout);
                        self.config.reply(Outcome::HandlerTimeout)
                    }
                };
                info!(session = %self.info.session_id, size, rcpts = envelope.rcpt_to.len(), code = reply.code, "message");
                if reply.is_positive() {
                    self.message_accepted();
                }
                self.config.events.reply_sent(reply.code);
                self.conn.queue(&reply);
            }
            DataOutcome::Refused(problem) => {
                warn!(session = %self.info.session_id, ?problem, "message refused");
                let (outcome, limit) = match problem {
                    DataProblem::TooLarge => {
                        (Outcome::MessageTooLarge, Some(LimitKind::MessageSize))
                    }
                    DataProblem::HeaderTooLarge | DataProblem::TooManyHeaderFields => {
                        (Outcome::HeaderTooLarge, Some(LimitKind::HeaderSize))
                    }
                    DataProblem::BareCr | DataProblem::BareLf | DataProblem::Nul => {
                        (Outcome::BareLineEnding, None)
                    }
                };
                if let Some(limit) = limit {
                    self.config.events.limit_hit(limit);
                }
                self.reply_outcome(outcome);
            }
        }
        Ok(())
    }
}
