//! Every session limit hit on purpose, with the reply code it must produce.

mod smtp_support;

use std::time::Duration;

use smtp_support::*;

#[tokio::test]
async fn declared_size_over_limit_is_refused_at_mail() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<a@example.org> SIZE=10240001", "552 5.3.4")
        .await;
    c.expect("MAIL FROM:<a@example.org> SIZE=10240000", "250 2.1.0")
        .await;
}

#[tokio::test]
async fn oversized_message_is_read_to_the_end_then_refused() {
    let mut config = test_config();
    config.limits.max_message_size = 1000;
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    let mut body = vec![b'x'; 100_000];
    body.extend_from_slice(b"\r\n.\r\n");
    assert!(transaction(&mut c, &body).await.starts_with("552 5.3.4"));
    // The session is back in a clean state and a small message still goes through.
    assert!(transaction(&mut c, b"small\r\n.\r\n")
        .await
        .starts_with("250"));
    let messages = server.handler.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].2, b"small\r\n");
}

#[tokio::test]
async fn too_many_recipients() {
    let mut config = test_config();
    config.limits.max_recipients = 2;
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    c.expect("RCPT TO:<a@vendor.example>", "250").await;
    c.expect("RCPT TO:<b@vendor.example>", "250").await;
    c.expect("RCPT TO:<c@vendor.example>", "452 4.5.3").await;
    c.expect("DATA", "354").await;
    c.send(".\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    assert_eq!(server.handler.messages()[0].1.rcpt_to.len(), 2);
}

#[tokio::test]
async fn long_command_lines_are_refused_without_being_buffered() {
    let mut config = test_config();
    config.limits.max_line_length = 64;
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    c.expect(&format!("NOOP {}", "x".repeat(100)), "500 5.5.2")
        .await;
    // A 1 MB line with no LF for a long time: skipped as it arrives, answered once it ends.
    let chunk = vec![b'y'; 64 * 1024];
    for _ in 0..16 {
        c.send(&chunk).await;
    }
    c.send("\r\n").await;
    assert!(c.reply().await.starts_with("500 5.5.2"));
    c.expect("NOOP", "250 2.0.0").await;
}

#[tokio::test]
async fn total_connection_limit() {
    let mut config = test_config();
    config.limits.max_connections = 2;
    let server = start(config).await;
    let first = Client::greeted(server.addr()).await;
    let _second = Client::greeted(server.addr()).await;
    let mut third = Client::connect(server.addr()).await;
    assert!(third.reply().await.starts_with("421 4.7.0"));
    assert!(third.closed().await);
    drop(first);
    // The freed place is reused (the server notices the close asynchronously).
    let mut admitted = false;
    for _ in 0..50 {
        let mut c = Client::connect(server.addr()).await;
        if c.reply().await.starts_with("220") {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted);
}

#[tokio::test]
async fn per_ip_connection_limit() {
    let mut config = test_config();
    config.limits.max_connections_per_ip = 1;
    let server = start(config).await;
    let _first = Client::greeted(server.addr()).await;
    let mut second = Client::connect(server.addr()).await;
    assert!(second.reply().await.starts_with("421 4.7.0"));
    assert!(second.closed().await);
}

#[tokio::test]
async fn idle_client_times_out() {
    let mut config = test_config();
    config.limits.timeouts.command = Duration::from_millis(200);
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    assert!(c.reply().await.starts_with("421 4.4.2"));
    assert!(c.closed().await);
}

#[tokio::test]
async fn stalled_data_times_out_and_delivers_nothing() {
    let mut config = test_config();
    config.limits.timeouts.data_block = Duration::from_millis(200);
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    c.open_data().await;
    c.send("Subject: stalled\r\n").await;
    assert!(c.reply().await.starts_with("421 4.4.2"));
    assert!(c.closed().await);
    assert!(server.handler.messages().is_empty());
}

#[tokio::test]
async fn error_limit_closes_the_session() {
    let mut config = test_config();
    config.limits.max_errors = 3;
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    c.expect("FROB", "500 5.5.1").await;
    c.expect("FROB", "500 5.5.1").await;
    c.send("FROB\r\n").await;
    assert!(c.reply().await.starts_with("500 5.5.1"));
    assert!(c.reply().await.starts_with("421 4.7.0"));
    assert!(c.closed().await);
}

/// Never decides; stands in for a stuck pipeline.
struct StuckHandler;

impl supportgate::smtp::MessageHandler for StuckHandler {
    fn check_recipient(
        &self,
        _: &supportgate::smtp::SessionInfo,
        _: &str,
    ) -> supportgate::smtp::RcptCheck {
        supportgate::smtp::RcptCheck::Accept
    }

    async fn deliver(
        &self,
        _: &supportgate::smtp::SessionInfo,
        _: &supportgate::smtp::Envelope,
        _: Vec<u8>,
    ) -> supportgate::smtp::SmtpReply {
        std::future::pending().await
    }
}

#[tokio::test]
async fn stuck_handler_gets_a_temporary_failure_not_a_250() {
    let mut config = test_config();
    config.limits.timeouts.data_termination = Duration::from_millis(200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(supportgate::smtp::run(
        vec![listener],
        std::sync::Arc::new(config),
        std::sync::Arc::new(StuckHandler),
        std::future::pending(),
    ));
    let mut c = Client::greeted(addr).await;
    c.cmd("EHLO client.example").await;
    assert!(transaction(&mut c, b"x\r\n.\r\n")
        .await
        .starts_with("451 4.4.2"));
    c.expect("QUIT", "221").await;
    server.abort();
}

/// Issue 10, finding 5: 10 MB of empty header fields cost ~350 MB and 2 s to parse. The
/// DATA reader refuses more than `max_header_count` (default 1000) fields, after reading the
/// message to its end, and the handler never sees it.
#[tokio::test]
async fn issue10_5_header_flood_is_read_to_the_end_and_refused() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    let message = |fields: usize| {
        let mut m = b"X:\r\n".repeat(fields);
        m.extend_from_slice(b"\r\nbody\r\n.\r\n");
        m
    };
    let reply = transaction(&mut c, &message(1001)).await;
    assert!(reply.starts_with("552 5.3.4"), "{reply:?}");
    // The session is in step again: the same flood at the limit goes through.
    let reply = transaction(&mut c, &message(1000)).await;
    assert!(reply.starts_with("250"), "{reply:?}");
    let messages = server.handler.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].2.len(), message(1000).len() - 3);
}

/// Issue 10, finding 5: a header section over `max_header_size` (default 102,400 bytes, as
/// Postfix's `header_size_limit`) is refused like an oversized message; the same bytes in
/// the body are fine.
#[tokio::test]
async fn issue10_5_header_over_max_header_size_is_refused() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    let long = "a".repeat(102_400);
    let in_header = format!("Subject: x\r\nX-Long: {long}\r\n\r\nbody\r\n.\r\n");
    let reply = transaction(&mut c, in_header.as_bytes()).await;
    assert!(reply.starts_with("552 5.3.4"), "{reply:?}");
    let in_body = format!("Subject: x\r\n\r\nX-Long: {long}\r\n.\r\n");
    let reply = transaction(&mut c, in_body.as_bytes()).await;
    assert!(reply.starts_with("250"), "{reply:?}");
    assert_eq!(server.handler.messages().len(), 1);
}

/// A client connection from `source` (any address of the loopback network) to `server`.
async fn client_from(source: &str, server: std::net::SocketAddr) -> Client<tokio::net::TcpStream> {
    let source: std::net::IpAddr = source.parse().unwrap();
    let socket = match source {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind((source, 0).into()).unwrap();
    let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(server))
        .await
        .expect("connect timeout")
        .expect("connect");
    Client {
        stream: tokio::io::BufReader::new(stream),
    }
}

/// Issue 10 finding 3: the per-IP limit counts an IPv4 address, and an IPv6 client (keyed on
/// its /64; `::1` here, the one IPv6 loopback address) is limited like any other.
#[tokio::test]
async fn issue10_3_per_ip_limit_counts_ipv4_addresses_and_ipv6_clients() {
    let mut config = test_config();
    config.limits.max_connections_per_ip = 1;
    let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let v6 = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let server = start_on(vec![v4, v6], config).await;
    let (v4, v6) = (server.addrs[0], server.addrs[1]);

    let mut first = client_from("127.0.0.1", v4).await;
    assert!(first.reply().await.starts_with("220"));
    let mut other_address = client_from("127.0.0.2", v4).await;
    assert!(
        other_address.reply().await.starts_with("220"),
        "another IPv4 address is another client"
    );
    let mut same_address = client_from("127.0.0.1", v4).await;
    assert!(same_address.reply().await.starts_with("421 4.7.0"));

    let mut ipv6 = client_from("::1", v6).await;
    assert!(ipv6.reply().await.starts_with("220"));
    let mut ipv6_again = client_from("::1", v6).await;
    assert!(ipv6_again.reply().await.starts_with("421 4.7.0"));
    assert!(ipv6_again.closed().await);
}
