//! The spool's record codec, pure (no IO): a segment is [`MAGIC`], then records, each framed as
//! `length (u32 LE) · CRC-32 of the payload (u32 LE) · payload`. The payload's first byte says
//! what it is: a message (its [`SpoolEntry`] as JSON, then its bytes), a `done` marker or a
//! retry-state marker. Zeros after the last record (the running server writes them ahead) end
//! the segment cleanly. A frame that is cut short, claims more than the segment holds, or whose
//! checksum does not match ends the readable part of its segment: after a crash that is the
//! record being written when the power went, and it is never delivered.

use super::SpoolEntry;
use serde::{Deserialize, Serialize};

/// The first bytes of every segment file (format version 1).
pub const MAGIC: &[u8; 8] = b"SGSPOOL1";
/// Length and checksum before each payload.
pub const FRAME_HEADER: usize = 8;
/// No payload is longer (a message is at most `[server] max_message_size`, far below).
pub const MAX_PAYLOAD: usize = 512 * 1024 * 1024;

const KIND_MESSAGE: u8 = 1;
const KIND_DONE: u8 = 2;
const KIND_STATE: u8 = 3;

/// Names a message: the segment that holds its record, and its id (an id alone is not
/// enough: a message released again after a failed release reuses its id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageKey {
    pub segment: String,
    pub id: String,
}

/// A message's retry state after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryState {
    pub key: MessageKey,
    pub attempts: u32,
    /// Unix seconds.
    pub next_attempt: u64,
    pub last_answer: Option<String>,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A message: its entry and its bytes (the end of the record).
    Message {
        entry: Box<SpoolEntry>,
        bytes: &'a [u8],
    },
    /// The message is delivered, given up, quarantined or deleted: never to be sent again.
    Done(MessageKey),
    /// The message's latest failed attempt (the one with the most attempts wins).
    State(RetryState),
}

/// Why the rest of a segment cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    #[error("not a spool segment (bad magic)")]
    BadMagic,
    #[error("record header cut short ({0} bytes left)")]
    CutHeader(usize),
    #[error("record length {0} beyond the end of the segment or the limit")]
    BadLength(usize),
    #[error("record checksum mismatch")]
    BadChecksum,
    #[error("record of unknown kind {0}")]
    UnknownKind(u8),
    #[error("record not readable: {0}")]
    BadContent(String),
}

/// One step of [`decode_next`].
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A record and the offset just after it (a message's bytes end there).
    Record { record: Record<'a>, next: usize },
    /// Nothing after `at`: the segment ends cleanly.
    End,
    /// The segment cannot be read from `at` on.
    Damaged { at: usize, damage: Damage },
}

/// Checks the magic; the first record is at [`MAGIC`]`.len()`.
pub fn check_magic(segment: &[u8]) -> Result<usize, Damage> {
    if segment.starts_with(MAGIC) {
        Ok(MAGIC.len())
    } else {
        Err(Damage::BadMagic)
    }
}

/// Decodes the record at `at` in `segment`. Never panics, whatever the bytes.
pub fn decode_next(segment: &[u8], at: usize) -> Decoded<'_> {
    let Some(rest) = segment.get(at..) else {
        return Decoded::End;
    };
    // Nothing after the last record, or only the zeros the running server writes ahead of
    // its records (segment::ZERO_AHEAD). Zeros followed by anything else are damage: the
    // start of a batch that was never made durable, whose later part was.
    if rest.iter().all(|&b| b == 0) {
        return Decoded::End;
    }
    let damaged = |damage| Decoded::Damaged { at, damage };
    let (Some(len), Some(crc)) = (read_u32(rest, 0), read_u32(rest, 4)) else {
        return damaged(Damage::CutHeader(rest.len()));
    };
    let len = len as usize;
    let Some(payload) = rest.get(FRAME_HEADER..FRAME_HEADER.saturating_add(len)) else {
        return damaged(Damage::BadLength(len));
    };
    if len == 0 || len > MAX_PAYLOAD {
        return damaged(Damage::BadLength(len));
    }
    if crc32fast::hash(payload) != crc {
        return damaged(Damage::BadChecksum);
    }
    match parse_payload(payload) {
        Ok(record) => Decoded::Record {
            record,
            next: at + FRAME_HEADER + len,
        },
        Err(damage) => damaged(damage),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let four: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(four))
}

fn parse_payload(payload: &[u8]) -> Result<Record<'_>, Damage> {
    let content = |e: serde_json::Error| Damage::BadContent(e.to_string());
    let (&kind, body) = payload
        .split_first()
        .ok_or(Damage::BadLength(payload.len()))?;
    match kind {
        KIND_MESSAGE => {
            let header_len = read_u32(body, 0)
                .ok_or_else(|| Damage::BadContent("message header length cut short".into()))?;
            let header = body
                .get(4..4 + header_len as usize)
                .ok_or_else(|| Damage::BadContent("message header cut short".into()))?;
            let entry = serde_json::from_slice(header).map_err(content)?;
            let bytes = &body[4 + header_len as usize..];
            Ok(Record::Message { entry, bytes })
        }
        KIND_DONE => Ok(Record::Done(serde_json::from_slice(body).map_err(content)?)),
        KIND_STATE => Ok(Record::State(
            serde_json::from_slice(body).map_err(content)?,
        )),
        other => Err(Damage::UnknownKind(other)),
    }
}

/// Appends one framed message record to `out`; returns where the message bytes start in `out`.
/// The message is copied once, straight into `out`.
pub fn encode_message(out: &mut Vec<u8>, entry: &SpoolEntry, bytes: &[u8]) -> usize {
    // Serializing a struct of strings and numbers cannot fail.
    let header = serde_json::to_vec(entry).unwrap_or_default();
    let frame_start = out.len();
    out.reserve(FRAME_HEADER + 1 + 4 + header.len() + bytes.len());
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.push(KIND_MESSAGE);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    let message_start = out.len();
    out.extend_from_slice(bytes);
    seal_frame(out, frame_start);
    message_start
}

/// Appends a framed `done` marker to `out`.
pub fn encode_done(out: &mut Vec<u8>, key: &MessageKey) {
    encode_json(out, KIND_DONE, key);
}

/// Appends a framed retry-state marker to `out`.
pub fn encode_state(out: &mut Vec<u8>, state: &RetryState) {
    encode_json(out, KIND_STATE, state);
}

fn encode_json(out: &mut Vec<u8>, kind: u8, value: &impl Serialize) {
    let frame_start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.push(kind);
    // Strings and numbers only: cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    seal_frame(out, frame_start);
}

/// Fills in the frame header reserved at `frame_start` (the payload's length and CRC-32) for
/// the payload appended after it.
fn seal_frame(out: &mut [u8], frame_start: usize) {
    let (header, payload) = out[frame_start..].split_at_mut(FRAME_HEADER);
    header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::spool::tests::entry;

    fn key(id: &str) -> MessageKey {
        MessageKey {
            segment: "S1".into(),
            id: id.into(),
        }
    }

    fn segment_of_three() -> Vec<u8> {
        let mut segment = MAGIC.to_vec();
        let at = encode_message(&mut segment, &entry("A1"), b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(&segment[at..at + 10], b"Subject: x");
        encode_done(&mut segment, &key("A1"));
        encode_state(
            &mut segment,
            &RetryState {
                key: key("B2"),
                attempts: 2,
                next_attempt: 500,
                last_answer: Some("451 later".into()),
            },
        );
        segment
    }

    fn decode_all(segment: &[u8]) -> (Vec<Record<'_>>, Option<(usize, Damage)>) {
        let mut at = check_magic(segment).unwrap();
        let mut records = Vec::new();
        loop {
            match decode_next(segment, at) {
                Decoded::Record { record, next, .. } => {
                    records.push(record);
                    at = next;
                }
                Decoded::End => return (records, None),
                Decoded::Damaged { at, damage } => return (records, Some((at, damage))),
            }
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let segment = segment_of_three();
        let (records, damage) = decode_all(&segment);
        assert_eq!(damage, None);
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0],
            Record::Message {
                entry: Box::new(entry("A1")),
                bytes: b"Subject: x\r\n\r\nbody\r\n"
            }
        );
        assert_eq!(records[1], Record::Done(key("A1")));
        assert!(matches!(&records[2], Record::State(s) if s.attempts == 2));
    }

    #[test]
    fn a_torn_tail_is_detected_at_every_cut_and_what_precedes_it_is_kept() {
        let whole = segment_of_three();
        let (all, _) = decode_all(&whole);
        let last_start = {
            let mut at = MAGIC.len();
            for _ in 0..2 {
                match decode_next(&whole, at) {
                    Decoded::Record { next, .. } => at = next,
                    other => panic!("{other:?}"),
                }
            }
            at
        };
        for cut in last_start + 1..whole.len() {
            let (records, damage) = decode_all(&whole[..cut]);
            assert_eq!(records, all[..2], "cut at {cut}");
            let (at, _) = damage.unwrap_or_else(|| panic!("cut at {cut} not detected"));
            assert_eq!(at, last_start);
        }
    }

    #[test]
    fn zeros_after_the_last_record_end_the_segment_and_zeros_before_data_do_not() {
        let whole = segment_of_three();
        let (all, _) = decode_all(&whole);
        let mut zero_tail = whole.clone();
        zero_tail.resize(whole.len() + 3 * FRAME_HEADER + 1000, 0);
        assert_eq!(decode_all(&zero_tail), (all.clone(), None));
        // A crash in a batch: its first part never reached the disk, a later part did.
        let mut torn = zero_tail.clone();
        torn[whole.len() + 500] = 7;
        let (records, damage) = decode_all(&torn);
        assert_eq!(records, all);
        assert_eq!(damage, Some((whole.len(), Damage::BadLength(0))));
        // The last record torn, the zeros after it still there.
        let mut last_cut = zero_tail;
        let cut_from = whole.len() - 5;
        last_cut[cut_from..whole.len()].fill(0);
        let (records, damage) = decode_all(&last_cut);
        assert_eq!(records, all[..2]);
        assert!(
            matches!(damage, Some((_, Damage::BadChecksum))),
            "{damage:?}"
        );
    }

    #[test]
    fn a_flipped_bit_is_a_bad_checksum() {
        let mut segment = segment_of_three();
        let in_first_payload = MAGIC.len() + FRAME_HEADER + 20;
        segment[in_first_payload] ^= 0x10;
        let (records, damage) = decode_all(&segment);
        assert!(records.is_empty());
        assert_eq!(damage, Some((MAGIC.len(), Damage::BadChecksum)));
    }

    #[test]
    fn absurd_lengths_and_bad_magic_are_refused_without_panic() {
        let mut segment = MAGIC.to_vec();
        segment.extend_from_slice(&u32::MAX.to_le_bytes());
        segment.extend_from_slice(&[0; 4]);
        assert!(matches!(
            decode_next(&segment, MAGIC.len()),
            Decoded::Damaged {
                damage: Damage::BadLength(_),
                ..
            }
        ));
        assert_eq!(check_magic(b"SGSPOOL"), Err(Damage::BadMagic));
        assert_eq!(decode_next(&segment, usize::MAX), Decoded::End);
    }
}
