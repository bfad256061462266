//! `milter_codec`: the milter frame decoder and session state machine, as a hostile MTA (or
//! anything that reaches the milter port) would drive them.
//!
//! Input: one chunking seed, then the bytes sent to the milter. Invariants:
//!
//! * no panic, whatever the bytes; decoding stops at the first error (the connection closes);
//! * the same commands, the same error, whatever the packet boundaries;
//! * every frame decoded was at most the frame limit;
//! * the session never asks the handler about a message over the limits (size, header), and a
//!   message it hands over ends its header section with a blank line when it has one.

use std::time::Duration;
use supportgate::milter::codec::{Command, FrameDecoder};
use supportgate::milter::{MilterLimits, Session, Step};

const MAX_FRAME: usize = 4096;

fn limits() -> MilterLimits {
    MilterLimits {
        max_frame: MAX_FRAME,
        max_message_size: 2048,
        max_header_size: 1024,
        max_header_count: 16,
        max_recipients: 4,
        max_macros: 8,
        max_connections: 1,
        idle_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
    }
}

/// Decodes `data` fed in pieces of 1 + (seed-driven) bytes; the commands and whether an error
/// ended them.
fn decode(data: &[u8], seed: u8) -> (Vec<Command>, bool) {
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut commands = Vec::new();
    let mut rest = data;
    let mut step = usize::from(seed);
    while !rest.is_empty() {
        let size = if seed == 0 { rest.len() } else { 1 + step % 37 }.min(rest.len());
        step = step.wrapping_mul(31).wrapping_add(7);
        decoder.extend(&rest[..size]);
        rest = &rest[size..];
        loop {
            match decoder.next_command() {
                Ok(Some(command)) => commands.push(command),
                Ok(None) => break,
                Err(_) => return (commands, true),
            }
        }
    }
    (commands, false)
}

pub fn check(input: &[u8]) {
    let [seed, data @ ..] = input else {
        return;
    };
    let whole = decode(data, 0);
    let chunked = decode(data, seed | 1);
    assert_eq!(whole, chunked, "decoding depends on the packet boundaries");
    let limits = limits();
    let mut session = Session::new("fuzz".into(), limits);
    let concerns = |rcpt: &str| rcpt.contains("support");
    for command in whole.0 {
        match session.on_command(command, &concerns) {
            Step::Reply(_) => {}
            Step::Close(_) => return,
            Step::Decide(message) => {
                assert!(message.bytes.len() <= limits.max_message_size);
                assert!(message.recipients.len() <= limits.max_recipients);
                assert!(message.recipients.iter().any(|(_, a)| concerns(a)));
            }
        }
    }
}
