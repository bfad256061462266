//! `spool_record`: arbitrary bytes as a spool segment → the record decoder
//! (`store::spool::record`), as recovery reads a segment after a crash.
//!
//! Invariants: no panic; each record starts where the previous one ended and ends within the
//! input; the walk ends cleanly or at one damage, never loops; every record read re-encodes to
//! a frame that reads back as the same record; the input cut anywhere inside its last record
//! reads as the records before it, then a damage at that record's start (a torn tail is never
//! taken for a record).

use supportgate::store::spool::record::{self, Decoded, Record};

/// Every record of `segment` with its start and end, and where the walk stopped.
fn walk(segment: &[u8]) -> (Vec<(usize, usize, Record<'_>)>, Option<usize>) {
    let Ok(mut at) = record::check_magic(segment) else {
        return (Vec::new(), Some(0));
    };
    let mut records = Vec::new();
    loop {
        match record::decode_next(segment, at) {
            Decoded::End => return (records, None),
            Decoded::Damaged { at: where_, .. } => {
                assert_eq!(where_, at, "damage reported elsewhere than asked");
                return (records, Some(at));
            }
            Decoded::Record { record, next } => {
                assert!(next > at && next <= segment.len(), "{at} → {next}");
                records.push((at, next, record));
                at = next;
            }
        }
    }
}

fn reencoded(record: &Record<'_>) -> Vec<u8> {
    let mut out = record::MAGIC.to_vec();
    match record {
        Record::Message { entry, bytes } => {
            record::encode_message(&mut out, entry, bytes);
        }
        Record::Done(key) => record::encode_done(&mut out, key),
        Record::State(state) => record::encode_state(&mut out, state),
    }
    out
}

pub fn check(input: &[u8]) {
    // Half the inputs are taken as records after a valid magic, so that the fuzzer reaches
    // the frames without having to find the magic first.
    let segment: Vec<u8> = match input.split_first() {
        Some((control, rest)) if control & 1 == 1 => [&record::MAGIC[..], rest].concat(),
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    };
    let (records, _) = walk(&segment);
    for (_, _, record) in &records {
        let again = reencoded(record);
        let (back, damage) = walk(&again);
        assert_eq!(damage, None, "a re-encoded record does not read back");
        assert_eq!(back.len(), 1);
        assert_eq!(&back[0].2, record, "re-encoded record reads back different");
    }
    if let Some((start, end, _)) = records.last() {
        for cut in [*start + 1, (*start + *end) / 2, *end - 1] {
            if cut <= *start || cut >= *end {
                continue;
            }
            let (before, damage) = walk(&segment[..cut]);
            assert_eq!(
                before.len(),
                records.len() - 1,
                "torn tail read as a record"
            );
            assert_eq!(damage, Some(*start), "torn tail not reported at its start");
        }
    }
}
