//! Black-box, real faults (issue 6): the server is SIGKILLed again and again while clients
//! send without pause; after the last restart every message that got `250` reaches the ticket
//! queue, an `smtp://` sink behind the spool or a Maildir. Duplicates (a kill between the upstream's 250 and the spool's
//! removal) are allowed, counted and reported.

mod gateway_support;

use gateway_support::sink::{Answer, Sink};
use gateway_support::{message, poll, Gateway, Options};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ACME: &str = "support+acme@vendor.example";
const KILLS: usize = 6;
const CLIENTS: usize = 4;

/// One transaction; the queue id of a `250`, None for anything else (refused, cut, no server).
fn send_once(port: u16, n: usize) -> Option<String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let mut reply = || -> Option<String> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some(line);
            }
        }
    };
    reply().filter(|r| r.starts_with("220"))?;
    let body = message(
        "chloe@acme.example",
        &format!("crash loop #{n}"),
        &[],
        "Hello.\n",
    );
    let steps: [(Vec<u8>, &str); 5] = [
        (b"EHLO client.test\r\n".to_vec(), "250"),
        (b"MAIL FROM:<chloe@acme.example>\r\n".to_vec(), "250"),
        (format!("RCPT TO:<{ACME}>\r\n").into_bytes(), "250"),
        (b"DATA\r\n".to_vec(), "354"),
        ([body.as_slice(), b".\r\n"].concat(), "250"),
    ];
    let mut last = String::new();
    for (bytes, expected) in steps {
        writer.write_all(&bytes).ok()?;
        last = reply()?;
        if !last.starts_with(expected) {
            return None;
        }
    }
    let _ = writer.write_all(b"QUIT\r\n");
    last.trim().rsplit(' ').next().map(str::to_string)
}

fn queue_id_of(data: &str) -> Option<String> {
    data.lines()
        .find_map(|l| l.strip_prefix("X-Supportgate-Queue-Id: "))
        .map(|id| id.trim().to_string())
}

/// Clients send without pause while the server is SIGKILLed and restarted `KILLS` times;
/// returns the queue ids of every message that got a `250`.
fn acknowledged_through_kills(gw: &mut Gateway) -> Vec<String> {
    let port = Arc::new(AtomicU16::new(gw.port));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (port, stop, acknowledged) = (
                Arc::clone(&port),
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
            );
            std::thread::spawn(move || {
                let mut n = c * 100_000;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    match send_once(port.load(Ordering::SeqCst), n) {
                        Some(id) => acknowledged.lock().unwrap().push(id),
                        None => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        })
        .collect();
    for _ in 0..KILLS {
        // Each instance acknowledges something before it is killed, however slowly a busy
        // machine starts it (bounded: the assertion below tells if none ever did).
        let before = acknowledged.lock().unwrap().len();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while acknowledged.lock().unwrap().len() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(400));
        gw.kill();
        gw.spawn();
        port.store(gw.port, Ordering::SeqCst);
    }
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20,
        "too few messages sent to prove anything: {}\n{}",
        acknowledged.len(),
        gw.log()
    );
    acknowledged
}

/// Waits (bounded) until every acknowledged id is in `copies()`, then reports and asserts that
/// none is missing; duplicates are counted, not refused.
fn assert_none_missing(
    target: &str,
    acknowledged: &[String],
    copies: impl Fn() -> BTreeMap<String, usize>,
) {
    let delivered = poll(|| {
        let copies = copies();
        acknowledged
            .iter()
            .all(|id| copies.contains_key(id))
            .then_some(copies)
    });
    let copies = delivered.unwrap_or_else(&copies);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !copies.contains_key(*id))
        .collect();
    let duplicates = copies.values().filter(|n| **n > 1).count();
    eprintln!(
        "crash loop ({target}): {KILLS} kills, {} acknowledged, {} delivered (distinct), {} missing, {duplicates} duplicated",
        acknowledged.len(),
        copies.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:?}"
    );
}

fn count_by_queue_id<'a>(messages: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut copies = BTreeMap::new();
    for data in messages {
        if let Some(id) = queue_id_of(data) {
            *copies.entry(id).or_insert(0) += 1;
        }
    }
    copies
}

#[test]
fn every_message_acknowledged_survives_repeated_sigkills() {
    let sink = Sink::start(Answer::Accept);
    let mut gw = Gateway::start(Options {
        queue: Some(sink.url()),
        spool: true,
        // Hundreds of messages from one sender in a minute are a mail loop (SPEC §10) and
        // would be quarantined; this test is about the spool, so the loop limit is out of
        // reach (`gateway_mail_loop.rs` tests it).
        limits: vec![("sender_messages", 1_000_000.into())],
        ..Options::default()
    });
    let acknowledged = acknowledged_through_kills(&mut gw);
    assert_none_missing("smtp:// target with the spool", &acknowledged, || {
        let received = sink.received();
        count_by_queue_id(received.iter().map(|r| r.data.as_str()))
    });
}

#[test]
fn every_message_acknowledged_into_a_maildir_survives_repeated_sigkills() {
    // The default ticket queue of the harness: a Maildir, written and fsync'd before the 250.
    let mut gw = Gateway::start(Options {
        limits: vec![("sender_messages", 1_000_000.into())],
        ..Options::default()
    });
    let acknowledged = acknowledged_through_kills(&mut gw);
    assert_none_missing("maildir target", &acknowledged, || {
        let tickets = gw.tickets();
        count_by_queue_id(tickets.iter().map(String::as_str))
    });
}
