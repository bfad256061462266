//! The spool over real files: group-committed stores, markers, recovery after a torn tail,
//! the command-line view and segment deletion.

use super::*;
use std::fs;
use std::sync::Arc;

pub(crate) fn entry(id: &str) -> SpoolEntry {
    SpoolEntry {
        id: id.into(),
        received_at: 100,
        mail_from: Some("ann@acme.example".into()),
        recipients: vec!["support@vendor.example".into()],
        peer: None,
        helo: None,
        subject: Some("Hi".into()),
        message_id: None,
        sender: Some("ann@acme.example".into()),
        decision: DecisionRecord {
            verdict: "accept".into(),
            reason: "registered-agent".into(),
            account: Some("acme".into()),
            agent: None,
            role: None,
            action: "forward".into(),
            category: None,
            reply: "none".into(),
        },
        attempts: 0,
        next_attempt: 100,
        last_answer: None,
        purpose: Purpose::Ticket,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn segments(root: &Path) -> Vec<String> {
    segment::list(root).unwrap()
}

fn ids(spool: &Spool) -> Vec<String> {
    spool.list().unwrap().into_iter().map(|e| e.id).collect()
}

#[test]
fn concurrent_stores_land_whole_and_survive_a_restart_with_their_markers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let live = Arc::new(LiveSpool::open(dir.path()).unwrap());
    let mut arrivals = live.take_arrivals().unwrap();
    let stores: Vec<_> = (0..40)
        .map(|n| {
            let live = Arc::clone(&live);
            rt.spawn(async move {
                let body = format!("Subject: {n}\r\n\r\nbody {n}\r\n").into_bytes();
                live.store(entry(&format!("M{n:02}")), body).await
            })
        })
        .collect();
    for store in stores {
        rt.block_on(store).unwrap().unwrap();
    }
    let mut seen = 0;
    while arrivals.try_recv().is_ok() {
        seen += 1;
    }
    assert_eq!(seen, 40, "the delivery side hears of every message");
    let stats = live.writer_stats();
    assert_eq!(stats.stored(), 40);
    assert!(
        (1..=40).contains(&stats.syncs()),
        "{} syncs for 40 messages",
        stats.syncs()
    );
    assert!(stats.sync_seconds() > 0.0);
    assert_eq!(segments(dir.path()).len(), 1, "one segment for all");
    let (key, stored) = live.waiting("M07").unwrap();
    assert_eq!(
        live.read_bytes(&key, stored.at).unwrap(),
        b"Subject: 7\r\n\r\nbody 7\r\n"
    );
    live.mark_done(&key);
    let (key, _) = live.waiting("M08").unwrap();
    live.record_attempt(RetryState {
        key,
        attempts: 1,
        next_attempt: 900,
        last_answer: Some("451 later".into()),
    });
    rt.block_on(live.sync());
    // Another process (the CLI) sees the same.
    let spool = Spool::new(dir.path());
    let listed = spool.list().unwrap();
    assert_eq!(listed.len(), 39);
    let m08 = listed.iter().find(|e| e.id == "M08").unwrap();
    assert_eq!((m08.attempts, m08.next_attempt), (1, 900));
    assert!(matches!(spool.read("M07"), Err(SpoolError::NotFound(_))));
    assert!(
        matches!(LiveSpool::open(dir.path()), Err(SpoolError::Locked(_))),
        "one server per spool"
    );
}

#[test]
fn a_torn_tail_is_not_delivered_and_writing_resumes_in_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    {
        let live = LiveSpool::open(dir.path()).unwrap();
        rt.block_on(live.store(entry("A1"), b"whole".to_vec()))
            .unwrap();
        rt.block_on(live.store(entry("B2"), b"torn by the crash".to_vec()))
            .unwrap();
    }
    let name = segments(dir.path()).remove(0);
    let path = segment::path_of(dir.path(), &name);
    // The records end at the last byte that is not zero (the zeros ahead of them follow).
    let bytes = fs::read(&path).unwrap();
    assert!(
        bytes.len() as u64 >= segment::ZERO_AHEAD,
        "no zeros ahead of the records"
    );
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(end as u64 - 5)
        .unwrap();
    assert_eq!(ids(&Spool::new(dir.path())), ["A1"]);
    let live = LiveSpool::open(dir.path()).unwrap();
    assert_eq!(live.backlog().0, 1);
    rt.block_on(live.store(entry("C3"), b"after".to_vec()))
        .unwrap();
    assert_eq!(
        segments(dir.path()).len(),
        2,
        "never appended after a torn tail"
    );
    assert_eq!(ids(&Spool::new(dir.path())), ["A1", "C3"]);
}

#[test]
fn a_flipped_bit_hides_that_record_and_what_follows_only() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    {
        let live = LiveSpool::open(dir.path()).unwrap();
        for id in ["A1", "B2", "C3"] {
            rt.block_on(live.store(entry(id), id.as_bytes().repeat(50)))
                .unwrap();
        }
    }
    let name = segments(dir.path()).remove(0);
    let path = segment::path_of(dir.path(), &name);
    let mut bytes = fs::read(&path).unwrap();
    let b2 = bytes
        .windows(100)
        .position(|w| w == b"B2".repeat(50).as_slice())
        .unwrap();
    bytes[b2 + 10] ^= 1;
    fs::write(&path, bytes).unwrap();
    assert_eq!(ids(&Spool::new(dir.path())), ["A1"]);
}

#[test]
fn segments_go_once_everything_in_them_is_done_and_the_cli_can_delete_and_release() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cli = Spool::new(dir.path());
    cli.store(&entry("R1-released"), b"released").unwrap();
    let live = LiveSpool::open(dir.path()).unwrap();
    rt.block_on(live.store(entry("A1"), b"a".to_vec())).unwrap();
    rt.block_on(live.store(entry("B2"), b"b".to_vec())).unwrap();
    assert_eq!(segments(dir.path()).len(), 2);
    // `queue delete` while the server runs: a marker segment, adopted.
    cli.remove("B2").unwrap();
    assert!(matches!(cli.remove("B2"), Err(SpoolError::NotFound(_))));
    live.adopt();
    rt.block_on(live.sync());
    assert!(live.waiting("B2").is_none(), "adopted");
    for id in ["A1", "R1-released"] {
        let (key, _) = live.waiting(id).unwrap();
        live.mark_done(&key);
    }
    rt.block_on(live.sync());
    assert_eq!(live.backlog(), (0, None));
    // The CLI's segments went; the server's own (small) one stays, to be appended to again.
    let left = segments(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(cli.list().unwrap().is_empty());
    rt.block_on(live.store(entry("C3"), b"c".to_vec())).unwrap();
    assert_eq!(
        segments(dir.path()),
        left,
        "no new file for the next message"
    );
    let (key, _) = live.waiting("C3").unwrap();
    live.mark_done(&key);
    rt.block_on(live.sync());
    assert_eq!(segments(dir.path()), left);
}

/// A current segment with nothing needed left is emptied in place: on disk, nothing of it
/// comes back (no message of it is listed again, the space is given back).
#[test]
fn a_dead_current_segment_is_emptied_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let live = LiveSpool::open(dir.path()).unwrap();
    for id in ["A1", "B2"] {
        rt.block_on(live.store(entry(id), vec![b'x'; 100_000]))
            .unwrap();
    }
    let first = segments(dir.path());
    assert_eq!(first.len(), 1);
    let path = segment::path_of(dir.path(), &first[0]);
    assert!(std::fs::metadata(&path).unwrap().len() > 200_000);
    for id in ["A1", "B2"] {
        let (key, _) = live.waiting(id).unwrap();
        live.mark_done(&key);
    }
    rt.block_on(live.sync());
    assert_eq!(segments(dir.path()), first);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        super::record::MAGIC.len() as u64
    );
    assert!(Spool::new(dir.path()).list().unwrap().is_empty());
    drop(live);
    let again = LiveSpool::open(dir.path()).unwrap();
    assert_eq!(
        again.backlog(),
        (0, None),
        "nothing comes back after a restart"
    );
}
