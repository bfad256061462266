//! The pool against a scripted relay on loopback that takes many connections (a test double:
//! the integration tests and `bench/relay.sh` deliver to real `smtp-sink` and Postfix).

use super::*;
use crate::delivery::smtp_client::tests::command_verb;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
struct Script {
    pipelining: bool,
    /// RCPT TO addresses containing this are refused (550).
    refuse_rcpt: Option<&'static str>,
    /// Messages containing this are refused at the end of data (554).
    refuse_body: Option<&'static str>,
    /// How long the relay thinks before it answers the end of data.
    answer_delay: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivered {
    rcpts: Vec<String>,
    body: String,
}

#[derive(Default)]
struct Seen {
    delivered: Mutex<Vec<Delivered>>,
    connections: AtomicUsize,
    /// `MAIL FROM` commands that came in the same read as the previous message's end.
    rides: AtomicUsize,
}

async fn relay(script: Script) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let shared = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            shared.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(session(socket, script.clone(), Arc::clone(&shared)));
        }
    });
    (port, seen)
}

async fn session(socket: TcpStream, script: Script, seen: Arc<Seen>) {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 relay ready\r\n").await.unwrap();
    let (mut rcpts, mut body, mut in_data, mut after_end) =
        (Vec::new(), String::new(), false, false);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim_end_matches("\r\n").to_string();
        if in_data {
            if text == "." {
                in_data = false;
                // What the client sent after the end without waiting for its answer.
                after_end = !reader.buffer().is_empty();
                tokio::time::sleep(script.answer_delay).await;
                let refused = script.refuse_body.is_some_and(|b| body.contains(b));
                let answer: &[u8] = if refused {
                    b"554 5.7.1 not this one\r\n"
                } else {
                    seen.delivered.lock().unwrap().push(Delivered {
                        rcpts: std::mem::take(&mut rcpts),
                        body: std::mem::take(&mut body),
                    });
                    b"250 2.0.0 queued\r\n"
                };
                rcpts.clear();
                body.clear();
                if write.write_all(answer).await.is_err() {
                    return;
                }
            } else {
                // Dot-stuffing undone (RFC 5321 4.5.2).
                body.push_str(text.strip_prefix('.').unwrap_or(&text));
                body.push('\n');
            }
            continue;
        }
        let answer = match command_verb(&text).as_str() {
            "EHLO" if script.pipelining => "250-relay\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "EHLO" => "250-relay\r\n250 8BITMIME\r\n",
            "MAIL" => {
                if std::mem::take(&mut after_end) {
                    seen.rides.fetch_add(1, Ordering::SeqCst);
                }
                rcpts.clear();
                "250 ok\r\n"
            }
            "RCPT" if script.refuse_rcpt.is_some_and(|r| text.contains(r)) => "550 5.1.1 no\r\n",
            "RCPT" => {
                rcpts.push(text.clone());
                "250 ok\r\n"
            }
            "DATA" if rcpts.is_empty() => "554 5.5.1 no valid recipients\r\n",
            "DATA" => {
                in_data = true;
                "354 go ahead\r\n"
            }
            "QUIT" => return,
            _ => "500 what\r\n",
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn pool(port: u16) -> Arc<SmtpPool> {
    Arc::new(SmtpPool::new(
        "127.0.0.1",
        port,
        "gateway.example",
        Duration::from_secs(20),
        64,
    ))
}

/// Sends message `n` (to `rcpt<n>@helpdesk.example`) from many tasks at once.
async fn send_all(pool: &Arc<SmtpPool>, count: usize) -> Vec<Result<(), String>> {
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let pool = Arc::clone(pool);
            tokio::spawn(async move {
                let rcpt = vec![format!("rcpt{n}@helpdesk.example")];
                let body = format!("Subject: {n}\r\n\r\nmessage {n}\r\n.dotted {n}\r\n");
                pool.send(Some("agent@acme.example"), &rcpt, body.as_bytes())
                    .await
                    .map_err(|e| match e {
                        SendError::Smtp(e) => e.to_string(),
                        SendError::Unreachable(why) => format!("unreachable: {why}"),
                    })
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

fn expected(n: usize) -> Delivered {
    Delivered {
        rcpts: vec![format!("RCPT TO:<rcpt{n}@helpdesk.example>")],
        body: format!("Subject: {n}\n\nmessage {n}\n.dotted {n}\n"),
    }
}

fn delivered_sorted(seen: &Seen) -> Vec<Delivered> {
    let mut all = seen.delivered.lock().unwrap().clone();
    all.sort_by_key(|d| d.rcpts.clone());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_ride_on_the_transaction_before_them() {
    let (port, seen) = relay(Script {
        pipelining: true,
        ..Script::default()
    })
    .await;
    let pool = pool(port);
    let mut rides = 0;
    // Concurrent bursts until riders were seen (bounded: a few bursts are enough).
    for burst in 0..20 {
        let results = send_all(&pool, 40).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        rides = seen.rides.load(Ordering::SeqCst);
        let mut want: Vec<Delivered> = (0..40).map(expected).collect();
        want.sort_by_key(|d| d.rcpts.clone());
        let got = delivered_sorted(&seen);
        assert_eq!(got, want, "burst {burst}: each message once, as sent");
        seen.delivered.lock().unwrap().clear();
        if rides > 0 {
            break;
        }
    }
    assert!(rides > 0, "no envelope came after a message's end");
    assert!(seen.connections.load(Ordering::SeqCst) < 40 * 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_in_a_chain_stays_with_its_own_message() {
    let (port, seen) = relay(Script {
        pipelining: true,
        refuse_rcpt: Some("rcpt7@"),
        refuse_body: Some("message 13"),
        ..Script::default()
    })
    .await;
    let pool = pool(port);
    for _ in 0..20 {
        if seen.rides.load(Ordering::SeqCst) > 3 {
            break;
        }
        seen.delivered.lock().unwrap().clear();
        let results = send_all(&pool, 30).await;
        for (n, result) in results.iter().enumerate() {
            match n {
                7 => assert!(result.as_ref().unwrap_err().contains("550"), "{result:?}"),
                13 => assert!(result.as_ref().unwrap_err().contains("554"), "{result:?}"),
                _ => assert!(result.is_ok(), "message {n}: {result:?}"),
            }
        }
        let mut want: Vec<Delivered> = (0..30)
            .filter(|n| *n != 7 && *n != 13)
            .map(expected)
            .collect();
        want.sort_by_key(|d| d.rcpts.clone());
        assert_eq!(delivered_sorted(&seen), want);
    }
    assert!(
        seen.rides.load(Ordering::SeqCst) > 0,
        "the refusals were not in a chain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_relay_gets_connections_side_by_side() {
    let (port, seen) = relay(Script {
        pipelining: true,
        answer_delay: Duration::from_millis(40),
        ..Script::default()
    })
    .await;
    let pool = pool(port);
    // One at a time: the pool learns that the relay takes 40 ms to answer.
    for _ in 0..8 {
        assert!(send_all(&pool, 1).await[0].is_ok());
    }
    assert!(pool.lock().answer_micros >= RIDE_WHEN_ANSWERED_WITHIN.as_micros() as u64);
    let results = send_all(&pool, 8).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(seen.rides.load(Ordering::SeqCst), 0, "nobody rode");
    assert_eq!(seen.delivered.lock().unwrap().len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pipelining_nobody_rides() {
    let (port, seen) = relay(Script::default()).await;
    let pool = pool(port);
    let results = send_all(&pool, 20).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(seen.rides.load(Ordering::SeqCst), 0);
    let mut want: Vec<Delivered> = (0..20).map(expected).collect();
    want.sort_by_key(|d| d.rcpts.clone());
    assert_eq!(delivered_sorted(&seen), want);
}
