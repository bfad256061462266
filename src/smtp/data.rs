//! The DATA reader: a pure, incremental state machine from raw bytes to a message.
//!
//! Bytes in, at most one [`DataOutcome`] out; no IO, no clock, so it can be fuzzed.
//!
//! * End of data is recognised **only** as `CRLF . CRLF`; the start of the data (right after
//!   `354`) counts as a line start, so `.CRLF` as the first line is an empty message.
//!   `LF.LF`, `CR.CR`, `LF.CRLF` and the other near-misses are never an end (SMTP smuggling,
//!   CVE-2023-51764 and relatives).
//! * A dot at the start of a line is removed (dot-unstuffing), unless the line is the
//!   terminator.
//! * A CR not followed by LF, an LF not preceded by CR, and NUL are refused in
//!   [`BareLineEndings::Reject`] mode (the default): the rest of the data is still read up to
//!   the real end, then the reader reports [`DataProblem`]. In [`BareLineEndings::Normalize`]
//!   mode bare CR and bare LF are written as CRLF, but they never start a line for the purpose
//!   of the terminator or of unstuffing; NUL is refused in both modes.
//! * Memory is bounded by `max_message_size`: once the message would exceed it the buffer is
//!   dropped and the rest is only scanned for the end. The header section is bounded the same
//!   way, in size and in fields (see `header_section`), so a flood of tiny header
//!   fields is refused here, before any parser sees it. Lines are never assembled, so DATA lines
//!   of any length are accepted as content (RFC 5321's 998-octet line limit is left to the
//!   consumer of the message; only the total size is limited here).

use std::mem;

use super::header_section::{HeaderLimit, HeaderSection};
use super::limits::SessionLimits;

/// What to do with a bare CR or bare LF in message data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BareLineEndings {
    /// Refuse the message with `550 5.5.2` (default).
    #[default]
    Reject,
    /// Replace them with CRLF.
    Normalize,
}

/// Why a message was refused by the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataProblem {
    TooLarge,
    /// The header section is larger than `max_header_size`.
    HeaderTooLarge,
    /// The header section has more than `max_header_count` fields.
    TooManyHeaderFields,
    BareCr,
    BareLf,
    Nul,
}

/// The result of a complete DATA phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataOutcome {
    /// The unstuffed message, CRLF line endings, ending with CRLF unless empty.
    Complete(Vec<u8>),
    /// The data was read to its end and refused.
    Refused(DataProblem),
}

/// What one call to [`DataReader::feed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input that belonged to the message (the rest belongs to the next command).
    pub consumed: usize,
    /// Set once the terminating `CRLF.CRLF` has been read.
    pub outcome: Option<DataOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the start of the data).
    LineStart,
    /// Read `.` at the start of a line.
    Dot,
    /// Read `.` CR at the start of a line.
    DotCr,
    /// Inside a line.
    Middle,
    /// Read a CR inside a line (or an empty line).
    Cr,
    /// The terminator has been read.
    Done,
}

/// Incremental DATA reader; see the module documentation.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    bare_line_endings: BareLineEndings,
    max_message_size: usize,
    header: HeaderSection,
    message: Vec<u8>,
    problem: Option<DataProblem>,
}

impl DataReader {
    /// A reader with the default header limits ([`SessionLimits`]).
    pub fn new(max_message_size: usize, bare_line_endings: BareLineEndings) -> Self {
        let defaults = SessionLimits::default();
        Self {
            state: State::LineStart,
            bare_line_endings,
            max_message_size,
            header: HeaderSection::new(defaults.max_header_size, defaults.max_header_count),
            message: Vec::new(),
            problem: None,
        }
    }

    /// Replaces the header limits: most bytes in the header section, most header fields.
    pub fn with_header_limits(mut self, max_size: usize, max_count: usize) -> Self {
        self.header = HeaderSection::new(max_size, max_count);
        self
    }

    /// Feeds the next bytes received after `354`. Once `outcome` is returned the reader is
    /// finished; it consumes nothing more.
    pub fn feed(&mut self, input: &[u8]) -> Progress {
        if self.state == State::Done {
            return Progress {
                consumed: 0,
                outcome: None,
            };
        }
        // The message grows by at most what arrived (and never past the limit): one
        // allocation per read instead of a doubling for every power of two on the way.
        if self.problem.is_none() {
            let room = self.max_message_size.saturating_sub(self.message.len());
            self.message.reserve(input.len().min(room));
        }
        let mut i = 0;
        while let Some(&byte) = input.get(i) {
            if self.state == State::Middle {
                let run = self.ordinary_run(&input[i..]);
                if run > 0 {
                    // The same as one `in_line` per byte, in one copy.
                    self.emit(&input[i..i + run]);
                    i += run;
                    continue;
                }
            }
            if self.step(byte) {
                self.state = State::Done;
                let outcome = match self.problem {
                    Some(problem) => DataOutcome::Refused(problem),
                    None => DataOutcome::Complete(mem::take(&mut self.message)),
                };
                return Progress {
                    consumed: i + 1,
                    outcome: Some(outcome),
                };
            }
            i += 1;
        }
        Progress {
            consumed: input.len(),
            outcome: None,
        }
    }

    /// Bytes of message kept so far (0 once the message has been refused).
    pub fn buffered(&self) -> usize {
        self.message.len()
    }

    /// Advances by one byte; true when the terminator is complete.
    fn step(&mut self, byte: u8) -> bool {
        match self.state {
            State::LineStart => match byte {
                b'.' => self.state = State::Dot,
                _ => self.in_line(byte),
            },
            State::Dot => match byte {
                b'\r' => self.state = State::DotCr,
                // Unstuffing: the leading dot is dropped, the rest of the line is content.
                _ => self.in_line(byte),
            },
            State::DotCr => match byte {
                b'\n' => return true,
                _ => {
                    self.bare(DataProblem::BareCr);
                    self.in_line(byte);
                }
            },
            State::Middle => self.in_line(byte),
            State::Cr => match byte {
                b'\n' => {
                    self.emit(b"\r\n");
                    self.state = State::LineStart;
                }
                _ => {
                    self.bare(DataProblem::BareCr);
                    self.in_line(byte);
                }
            },
            State::Done => {}
        }
        false
    }

    /// How many bytes at the start of `input` are plain line content (no CR, LF or NUL) that
    /// may be kept in one piece: none once the run would reach the size limit, where the
    /// byte-by-byte path decides which limit is met first.
    fn ordinary_run(&self, input: &[u8]) -> usize {
        let run = memchr::memchr3(b'\r', b'\n', 0, input).unwrap_or(input.len());
        if self.problem.is_none() && self.message.len() + run > self.max_message_size {
            return 0;
        }
        run
    }

    /// A byte inside a line (never a line start).
    fn in_line(&mut self, byte: u8) {
        self.state = State::Middle;
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => self.bare(DataProblem::BareLf),
            0 => self.refuse(DataProblem::Nul),
            _ => self.emit(&[byte]),
        }
    }

    fn bare(&mut self, problem: DataProblem) {
        match self.bare_line_endings {
            BareLineEndings::Normalize => self.emit(b"\r\n"),
            BareLineEndings::Reject => self.refuse(problem),
        }
    }

    fn refuse(&mut self, problem: DataProblem) {
        if self.problem.is_none() {
            self.problem = Some(problem);
        }
        self.message = Vec::new();
    }

    fn emit(&mut self, bytes: &[u8]) {
        if self.problem.is_some() {
            return;
        }
        if self.message.len() + bytes.len() > self.max_message_size {
            self.refuse(DataProblem::TooLarge);
            return;
        }
        if let Err(limit) = self.header.measure(bytes) {
            self.refuse(match limit {
                HeaderLimit::Size => DataProblem::HeaderTooLarge,
                HeaderLimit::Count => DataProblem::TooManyHeaderFields,
            });
            return;
        }
        self.message.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], mode: BareLineEndings) -> (usize, Option<DataOutcome>) {
        let mut reader = DataReader::new(1000, mode);
        let p = reader.feed(input);
        (p.consumed, p.outcome)
    }

    fn complete(input: &[u8]) -> Vec<u8> {
        match read_all(input, BareLineEndings::Reject).1 {
            Some(DataOutcome::Complete(m)) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn plain_message_and_leftover() {
        let input = b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
        let (consumed, outcome) = read_all(input, BareLineEndings::Reject);
        assert_eq!(&input[consumed..], b"QUIT\r\n");
        assert_eq!(
            outcome,
            Some(DataOutcome::Complete(
                b"Subject: x\r\n\r\nbody\r\n".to_vec()
            ))
        );
    }

    #[test]
    fn empty_message_dot_at_very_start() {
        assert_eq!(complete(b".\r\n"), b"");
    }

    #[test]
    fn dot_unstuffing() {
        assert_eq!(
            complete(b"..\r\n..x\r\n.y\r\na.b\r\n.\r\n"),
            b".\r\n.x\r\ny\r\na.b\r\n"
        );
    }

    #[test]
    fn fake_terminators_are_not_the_end() {
        let fakes: &[(&[u8], DataProblem)] = &[
            (b"\n.\n", DataProblem::BareLf),
            (b"\n.\r\n", DataProblem::BareLf),
            (b"\r\n.\n", DataProblem::BareLf),
            (b"\r.\r\n", DataProblem::BareCr),
            (b"\r\n.\r", DataProblem::BareCr),
            (b"\r.\r", DataProblem::BareCr),
            (b"\n.\r", DataProblem::BareLf),
            (b"\r.\n", DataProblem::BareCr),
            (b"\r\n\0.\r\n", DataProblem::Nul),
        ];
        for (fake, problem) in fakes {
            let mut input = b"a".to_vec();
            input.extend_from_slice(fake);
            input.extend_from_slice(b"MAIL FROM:<evil@x>\r\n");
            let fake_end = input.len();
            input.extend_from_slice(b"smuggled\r\n.\r\nNEXT");
            let (consumed, outcome) = read_all(&input, BareLineEndings::Reject);
            assert!(consumed > fake_end, "{fake:?} ended the data early");
            assert_eq!(&input[consumed..], b"NEXT", "{fake:?}");
            assert_eq!(outcome, Some(DataOutcome::Refused(*problem)), "{fake:?}");
        }
    }

    #[test]
    fn normalize_mode_rewrites_bare_endings_but_keeps_the_real_end() {
        let (consumed, outcome) = read_all(b"a\nb\rc\n.\nd\r\n.\r\nX", BareLineEndings::Normalize);
        assert_eq!(consumed, 14);
        assert_eq!(
            outcome,
            Some(DataOutcome::Complete(b"a\r\nb\r\nc\r\n.\r\nd\r\n".to_vec()))
        );
        let (_, outcome) = read_all(b"a\0\r\n.\r\n", BareLineEndings::Normalize);
        assert_eq!(outcome, Some(DataOutcome::Refused(DataProblem::Nul)));
    }

    #[test]
    fn byte_by_byte_equals_all_at_once() {
        let input = b"..a\r\nb\r\n\r\n.\r\nREST";
        let mut reader = DataReader::new(1000, BareLineEndings::Reject);
        let mut outcome = None;
        let mut consumed = 0;
        for byte in input.iter() {
            let p = reader.feed(std::slice::from_ref(byte));
            consumed += p.consumed;
            if p.outcome.is_some() {
                outcome = p.outcome;
                break;
            }
        }
        assert_eq!(consumed, input.len() - 4);
        assert_eq!(outcome, read_all(input, BareLineEndings::Reject).1);
    }

    /// Kept in runs or a byte at a time, every message and every limit gives the same
    /// outcome and the same leftover: inputs drawn from the bytes that matter, cut at random.
    #[test]
    fn runs_and_single_bytes_agree_at_every_limit() {
        let alphabet = [b'a', b'b', b' ', b'.', b'\r', b'\n', 0, b':'];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..4000 {
            let len = (next() % 80) as usize;
            let mut input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    // Mostly plain bytes, so that runs form.
                    if r % 3 == 0 {
                        alphabet[(r / 3 % alphabet.len() as u64) as usize]
                    } else {
                        b'x'
                    }
                })
                .collect();
            input.extend_from_slice(b"\r\n.\r\nNEXT");
            let max_size = (next() % 90) as usize;
            let (header_size, header_count) = ((next() % 60) as usize, (next() % 5) as usize);
            let mode = if case % 2 == 0 {
                BareLineEndings::Reject
            } else {
                BareLineEndings::Normalize
            };
            let new =
                || DataReader::new(max_size, mode).with_header_limits(header_size, header_count);
            let mut whole = new();
            let all_at_once = whole.feed(&input);
            let mut single = new();
            let mut consumed = 0;
            let mut outcome = None;
            for byte in &input {
                let p = single.feed(std::slice::from_ref(byte));
                consumed += p.consumed;
                if p.outcome.is_some() {
                    outcome = p.outcome;
                    break;
                }
            }
            let cut = (next() % (input.len() as u64 + 1)) as usize;
            let mut halves = new();
            let first = halves.feed(&input[..cut]);
            let in_halves = match first.outcome {
                Some(o) => (first.consumed, Some(o)),
                None => {
                    let second = halves.feed(&input[cut..]);
                    (first.consumed + second.consumed, second.outcome)
                }
            };
            let expected = (all_at_once.consumed, all_at_once.outcome);
            assert_eq!((consumed, outcome), expected, "case {case}: {input:?}");
            assert_eq!(in_halves, expected, "case {case} cut at {cut}: {input:?}");
        }
    }

    #[test]
    fn too_large_is_read_to_the_end_without_buffering() {
        let mut reader = DataReader::new(10, BareLineEndings::Reject);
        let p = reader.feed(&[b'x'; 5000]);
        assert_eq!((p.consumed, p.outcome), (5000, None));
        assert_eq!(reader.buffered(), 0);
        let p = reader.feed(b"\r\n.\r\n");
        assert_eq!(p.outcome, Some(DataOutcome::Refused(DataProblem::TooLarge)));
    }

    #[test]
    fn exactly_at_the_limit_is_accepted() {
        let mut reader = DataReader::new(5, BareLineEndings::Reject);
        let p = reader.feed(b"abc\r\n.\r\n");
        assert_eq!(p.outcome, Some(DataOutcome::Complete(b"abc\r\n".to_vec())));
    }

    #[test]
    fn header_limits_refuse_but_read_to_the_end() {
        let mut flood = b"X:\r\n".repeat(11);
        flood.extend_from_slice(b"\r\nbody\r\n.\r\nNEXT");
        let mut reader =
            DataReader::new(1000, BareLineEndings::Reject).with_header_limits(1000, 10);
        let p = reader.feed(&flood);
        assert_eq!(&flood[p.consumed..], b"NEXT");
        assert_eq!(
            p.outcome,
            Some(DataOutcome::Refused(DataProblem::TooManyHeaderFields))
        );
        let mut reader = DataReader::new(1000, BareLineEndings::Reject).with_header_limits(8, 10);
        let p = reader.feed(b"Subject: x\r\n\r\n.\r\n");
        assert_eq!(
            p.outcome,
            Some(DataOutcome::Refused(DataProblem::HeaderTooLarge))
        );
        // A long body under a small header is fine.
        let mut reader = DataReader::new(1000, BareLineEndings::Reject).with_header_limits(8, 1);
        let p = reader.feed(b"A: 1\r\n\r\nX:\r\nX:\r\nX:\r\n.\r\n");
        assert!(matches!(p.outcome, Some(DataOutcome::Complete(_))));
    }

    #[test]
    fn finished_reader_consumes_nothing() {
        let mut reader = DataReader::new(5, BareLineEndings::Reject);
        assert!(reader.feed(b".\r\n").outcome.is_some());
        assert_eq!(reader.feed(b"more").consumed, 0);
    }
}
