//! `data_reader`: the DATA reader against a reference model of RFC 5321 §4.1.1.4 / §4.5.2.
//!
//! Input: one control byte (mode, size limit), one chunking seed, then the bytes a client sends
//! after `354`. Invariants:
//!
//! * the end of data is the **first** `CRLF . CRLF` (the start of data counting as a line
//!   start), and nothing else: `consumed` is exactly that end, never more than the input; with
//!   no such sequence, everything is consumed and there is no outcome;
//! * the same outcome and `consumed` whatever the packet boundaries, and a finished reader
//!   consumes nothing more (no second message from one DATA);
//! * a complete message is built from the bytes before the terminator only: in `Reject` mode it
//!   is exactly those lines, dot-unstuffed, CRLF-joined; a refusal names a problem that is in
//!   those bytes;
//! * a complete message (both modes) has no bare CR, bare LF or NUL, ends with CRLF unless empty,
//!   fits the limit, and survives the trip back: dot-stuffed and terminated, it reads as the same
//!   message with the end exactly at the end. (It may well contain a line that is just `.`:
//!   `..` unstuffs to that; what must hold is that it can never end the data once re-stuffed.)
//! * `Normalize` mode agrees with `Reject` mode whenever `Reject` accepts.

use supportgate::smtp::{BareLineEndings, DataOutcome, DataProblem, DataReader};

const LIMITS: [usize; 4] = [0, 8, 64, 1 << 20];

/// A reader without header limits: this model is about the end of data, unstuffing and line
/// endings; the header limits have their own tests (`smtp::header_section`).
fn reader(max: usize, mode: BareLineEndings) -> DataReader {
    DataReader::new(max, mode).with_header_limits(usize::MAX, usize::MAX)
}

pub fn check(input: &[u8]) {
    let [control, seed, data @ ..] = input else {
        return;
    };
    let max = LIMITS[usize::from(control & 3)];
    let reject = run(data, max, BareLineEndings::Reject, *seed);
    let normalize = run(data, max, BareLineEndings::Normalize, *seed);
    if let Some(DataOutcome::Complete(message)) = &reject.1 {
        assert_eq!(
            normalize.1,
            Some(DataOutcome::Complete(message.clone())),
            "Normalize disagrees with Reject on a clean message"
        );
    }
    assert_eq!(reject.0, normalize.0, "the end of data depends on the mode");
}

/// Runs every check for one mode; returns `(consumed, outcome)`.
fn run(data: &[u8], max: usize, mode: BareLineEndings, seed: u8) -> (usize, Option<DataOutcome>) {
    let whole = reader(max, mode).feed(data);
    assert!(whole.consumed <= data.len(), "consumed past the input");
    let chunked = feed_in_chunks(data, max, mode, seed);
    assert_eq!(
        (whole.consumed, &whole.outcome),
        (chunked.0, &chunked.1),
        "packet boundaries changed the result"
    );

    let end = first_terminator(data);
    match end {
        Some(end) => {
            assert_eq!(
                whole.consumed, end,
                "the end of data is not the first CRLF.CRLF"
            );
            assert!(whole.outcome.is_some(), "terminator read but no outcome");
        }
        None => {
            assert_eq!(whole.consumed, data.len(), "stopped without a terminator");
            assert_eq!(whole.outcome, None, "an outcome without a terminator");
        }
    }
    let (Some(end), Some(outcome)) = (end, &whole.outcome) else {
        return (whole.consumed, whole.outcome);
    };
    // The bytes before the terminator line (`.CRLF` is the last 3 bytes).
    let body = &data[..end - 3];
    let expected = unstuff(body);
    let faults = faults(body);
    match outcome {
        DataOutcome::Complete(message) => {
            assert!(faults.nul == 0, "NUL in an accepted message's data");
            if mode == BareLineEndings::Reject {
                assert!(
                    faults.bare_cr == 0 && faults.bare_lf == 0,
                    "bare line ending accepted in Reject mode"
                );
                assert_eq!(message, &expected, "not the unstuffed lines before the end");
            }
            check_message(message, max, mode);
        }
        DataOutcome::Refused(problem) => {
            let present = match problem {
                DataProblem::TooLarge => true,
                DataProblem::Nul => faults.nul > 0,
                DataProblem::BareCr => faults.bare_cr > 0 && mode == BareLineEndings::Reject,
                DataProblem::BareLf => faults.bare_lf > 0 && mode == BareLineEndings::Reject,
                DataProblem::HeaderTooLarge | DataProblem::TooManyHeaderFields => false,
            };
            assert!(present, "refused for {problem:?}, which is not in the data");
            if *problem == DataProblem::TooLarge && faults.total() == 0 {
                assert!(expected.len() > max, "TooLarge but the message fits");
            }
        }
    }
    if faults.total() == 0 && expected.len() <= max {
        assert_eq!(
            outcome,
            &DataOutcome::Complete(expected),
            "clean data refused"
        );
    }
    (whole.consumed, whole.outcome)
}

/// Feeds `data` in chunks whose sizes come from `seed`; after the outcome, keeps feeding the
/// rest and requires that nothing more is consumed.
fn feed_in_chunks(
    data: &[u8],
    max: usize,
    mode: BareLineEndings,
    seed: u8,
) -> (usize, Option<DataOutcome>) {
    let mut reader = reader(max, mode);
    let mut state = u32::from(seed) | 0x100;
    let mut rest = data;
    let mut consumed = 0;
    let mut outcome = None;
    while !rest.is_empty() {
        // xorshift: sizes 1..=16 mostly, sometimes a big block.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = match state % 8 {
            0 => 512,
            n => (n as usize) * (1 + (state as usize >> 8) % 3),
        }
        .min(rest.len());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let progress = reader.feed(chunk);
        assert!(progress.consumed <= chunk.len(), "consumed past the chunk");
        if outcome.is_some() {
            assert_eq!(
                progress.consumed, 0,
                "a finished reader consumed more input"
            );
            assert_eq!(progress.outcome, None, "a second outcome from one DATA");
            continue;
        }
        consumed += progress.consumed;
        match progress.outcome {
            Some(o) => outcome = Some(o),
            None => assert_eq!(
                progress.consumed,
                chunk.len(),
                "stopped early without an end"
            ),
        }
    }
    (consumed, outcome)
}

/// The reference end of data: just past the first `.CRLF` at a line start, where lines start at
/// the beginning of the data and after each CRLF (bare CR or LF never start a line).
pub fn first_terminator(data: &[u8]) -> Option<usize> {
    (0..data.len()).find_map(|i| {
        let at_line_start = i == 0 || (i >= 2 && &data[i - 2..i] == b"\r\n");
        (at_line_start && data[i..].starts_with(b".\r\n")).then_some(i + 3)
    })
}

/// Reference unstuffing: CRLF-separated lines, one leading dot removed from each, CRLF-joined.
fn unstuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut line_start = 0;
    let mut i = 0;
    while i + 1 < body.len() {
        if &body[i..i + 2] == b"\r\n" {
            let line = &body[line_start..i];
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            out.extend_from_slice(b"\r\n");
            i += 2;
            line_start = i;
        } else {
            i += 1;
        }
    }
    // `body` ends with CRLF or is empty, so nothing is left over.
    assert_eq!(line_start, body.len(), "body does not end with CRLF");
    out
}

#[derive(Default)]
struct Faults {
    bare_cr: usize,
    bare_lf: usize,
    nul: usize,
}

impl Faults {
    fn total(&self) -> usize {
        self.bare_cr + self.bare_lf + self.nul
    }
}

fn faults(bytes: &[u8]) -> Faults {
    let mut faults = Faults::default();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => faults.bare_cr += 1,
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => faults.bare_lf += 1,
            0 => faults.nul += 1,
            _ => {}
        }
    }
    faults
}

/// What holds for every complete message, whatever the mode.
fn check_message(message: &[u8], max: usize, mode: BareLineEndings) {
    assert!(message.len() <= max, "message over the limit");
    let f = faults(message);
    assert_eq!(
        (f.bare_cr, f.bare_lf, f.nul),
        (0, 0, 0),
        "bare CR, bare LF or NUL in a complete message"
    );
    assert!(
        message.is_empty() || message.ends_with(b"\r\n"),
        "message does not end with CRLF"
    );
    // Dot-stuff it as a client would, terminate it, read it again.
    let mut wire = Vec::with_capacity(message.len() + 8);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\nQUIT\r\n");
    let again = reader(max, mode).feed(&wire);
    assert_eq!(
        again.consumed,
        wire.len() - 6,
        "re-stuffed message ended early or late"
    );
    assert_eq!(
        again.outcome,
        Some(DataOutcome::Complete(message.to_vec())),
        "re-stuffed message reads differently"
    );
}
