//! Black-box runs of the SMTP server over loopback: commands, sequencing, relay hacks.

mod smtp_support;

use smtp_support::*;

#[tokio::test]
async fn greeting_and_ehlo_capabilities() {
    let server = start(test_config()).await;
    let mut c = Client::connect(server.addr()).await;
    assert_eq!(c.reply().await, "220 mx.test ESMTP");
    let ehlo = c.cmd("EHLO client.example").await;
    let caps: Vec<&str> = ehlo.lines().skip(1).map(|l| &l[4..]).collect();
    for cap in [
        "PIPELINING",
        "SIZE 10240000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(caps.contains(&cap), "{cap} missing from {ehlo}");
    }
    assert!(
        !caps.contains(&"STARTTLS"),
        "STARTTLS offered without TLS: {ehlo}"
    );
    c.expect("HELO client.example", "250 mx.test").await;
    c.expect("QUIT", "221 2.0.0").await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn full_transaction_is_delivered_unstuffed() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect(
        "MAIL FROM:<alice@example.org> BODY=8BITMIME SMTPUTF8",
        "250 2.1.0",
    )
    .await;
    c.expect("RCPT TO:<support@vendor.example>", "250 2.1.5")
        .await;
    c.expect("RCPT TO:<\"sales+acme\"@vendor.example>", "250 2.1.5")
        .await;
    c.expect("RCPT TO:<someone@elsewhere.example>", "550 5.1.1")
        .await;
    c.expect("DATA", "354").await;
    c.send("Subject: hi\r\n\r\n..leading dot\r\nbye\r\n.\r\n")
        .await;
    assert_eq!(c.reply().await, "250 2.0.0 Queued");
    c.expect("QUIT", "221").await;

    let messages = server.handler.messages();
    assert_eq!(messages.len(), 1);
    let (info, envelope, body) = &messages[0];
    assert_eq!(info.helo.as_deref(), Some("client.example"));
    assert!(!info.tls);
    assert_eq!(envelope.mail_from.as_deref(), Some("alice@example.org"));
    assert_eq!(
        envelope.rcpt_to,
        ["support@vendor.example", "sales+acme@vendor.example"]
    );
    assert!(envelope.smtputf8 && envelope.body_8bit);
    assert_eq!(body, b"Subject: hi\r\n\r\n.leading dot\r\nbye\r\n");
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.send(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<nobody@other.example>\r\n\
         RCPT TO:<support@vendor.example>\r\nNOOP\r\nDATA\r\n",
    )
    .await;
    let expected = ["250 2.1.0", "550 5.1.1", "250 2.1.5", "250 2.0.0", "354 "];
    for code in expected {
        let reply = c.reply().await;
        assert!(reply.starts_with(code), "{reply} != {code}");
    }
    c.send("x\r\n.\r\nRSET\r\nQUIT\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0 Queued"));
    assert!(c.reply().await.starts_with("250 2.0.0"));
    assert!(c.reply().await.starts_with("221 2.0.0"));
    assert_eq!(server.handler.messages().len(), 1);
}

#[tokio::test]
async fn null_reverse_path_is_accepted() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    let reply = transaction(&mut c, b"bounce\r\n.\r\n").await;
    assert!(reply.starts_with("250"), "{reply}");
    c.expect("MAIL FROM:<>", "250 2.1.0").await;
    c.expect("RCPT TO:<support@vendor.example>", "250").await;
    c.expect("DATA", "354").await;
    c.send("bounce\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    let messages = server.handler.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].1.mail_from, None);
}

#[tokio::test]
async fn relay_hacks_are_refused_before_the_handler() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    let hacks = [
        "<user%elsewhere.example@vendor.example>",
        "<elsewhere.example!user@vendor.example>",
        "<@relay.example,@vendor.example:user@vendor.example>",
        "<\"user@elsewhere.example\"@vendor.example>",
        "<support@[127.0.0.1]>",
        "<support@vendor.example.>",
        "<support>",
        "<support@>",
    ];
    for hack in hacks {
        c.expect(&format!("RCPT TO:{hack}"), "550 5.1.1").await;
    }
    c.expect("DATA", "503 5.5.1").await;
    c.expect("QUIT", "221").await;
    assert!(server.handler.messages().is_empty());
}

#[tokio::test]
async fn sequencing_and_unknown_commands() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.expect("MAIL FROM:<a@example.org>", "503 5.5.1").await;
    c.expect("EHLO client.example", "250").await;
    c.expect("RCPT TO:<support@vendor.example>", "503 5.5.1")
        .await;
    c.expect("DATA", "503 5.5.1").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    c.expect("MAIL FROM:<a@example.org>", "503 5.5.1").await;
    c.expect("DATA", "503 5.5.1").await;
    c.expect("RSET", "250 2.0.0").await;
    c.expect("RCPT TO:<support@vendor.example>", "503 5.5.1")
        .await;
    c.expect("FROB", "500 5.5.1").await;
    c.expect("EXPN staff", "502 5.5.1").await;
    c.expect("ETRN example.org", "502 5.5.1").await;
    c.expect("AUTH PLAIN AGFAAGI=", "502 5.5.1").await;
    c.expect("BDAT 10 LAST", "502 5.5.1").await;
    c.expect("VRFY someone", "252 2.5.0").await;
    c.expect("HELP", "214 2.0.0").await;
    c.expect("NOOP", "250 2.0.0").await;
    c.expect("STARTTLS", "454 4.7.0").await;
    c.expect("MAIL FROM:<a@example.org> FOO=BAR", "555 5.5.4")
        .await;
    c.expect("MAIL FROM:a@example.org", "501 5.5.4").await;
    c.expect("QUIT", "221").await;
}

#[tokio::test]
async fn disconnect_mid_data_delivers_nothing() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    c.expect("RCPT TO:<support@vendor.example>", "250").await;
    c.expect("DATA", "354").await;
    c.send("Subject: partial\r\n\r\nhalf a message\r\n").await;
    drop(c);
    // A fresh session proves the server is still serving and lets the old one finish.
    let mut c = Client::greeted(server.addr()).await;
    c.expect("QUIT", "221").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(server.handler.messages().is_empty());
}

#[tokio::test]
async fn ipv4_and_ipv6_listeners() {
    let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut listeners = vec![v4];
    match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(v6) => listeners.push(v6),
        Err(e) => println!("skipping IPv6 listener: cannot bind [::1]:0: {e}"),
    }
    let server = start_on(listeners, test_config()).await;
    for addr in &server.addrs {
        let mut c = Client::greeted(*addr).await;
        c.expect("QUIT", "221").await;
    }
}

#[tokio::test]
async fn python_smtplib_interoperates() {
    let server = start(test_config()).await;
    let script = r#"
import smtplib, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=5) as s:
    s.ehlo('python.example')
    assert s.has_extn('pipelining') and s.has_extn('size'), s.esmtp_features
    refused = s.sendmail('py@example.org', ['support@vendor.example'],
                         b'Subject: from python\r\n\r\n.line with dot\r\nend\r\n')
    assert refused == {}, refused
"#;
    let port = server.addr().port().to_string();
    let run = tokio::process::Command::new("python3")
        .args(["-c", script, &port])
        .output();
    let output = match tokio::time::timeout(std::time::Duration::from_secs(20), run).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            println!("skipping: python3 not available: {e}");
            return;
        }
        Err(_) => panic!("python3 smtplib timed out"),
    };
    assert!(
        output.status.success(),
        "smtplib failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let messages = server.handler.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].2,
        b"Subject: from python\r\n\r\n.line with dot\r\nend\r\n"
    );
}

/// Issue 10, finding 6: a non-ASCII address is only for transactions that declare SMTPUTF8
/// (RFC 6531 §3.5); without it, `553 5.6.7`, at MAIL and at RCPT.
#[tokio::test]
async fn issue10_6_non_ascii_address_without_smtputf8_is_refused() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<jörg@example.org>", "553 5.6.7").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    c.expect("RCPT TO:<süpport@vendor.example>", "553 5.6.7")
        .await;
    c.expect("RSET", "250").await;
    // Declared: both are accepted.
    c.expect("MAIL FROM:<jörg@example.org> SMTPUTF8", "250")
        .await;
    c.expect("RCPT TO:<süpport@vendor.example>", "250").await;
    c.expect("DATA", "354").await;
    c.send("Subject: utf8\r\n\r\nx\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    // Latin-1 bytes are not UTF-8, SMTPUTF8 or not.
    c.send(b"MAIL FROM:<j\xf6rg@example.org> SMTPUTF8\r\n")
        .await;
    assert!(c.reply().await.starts_with("553 5.1.7"));
    c.send(b"MAIL FROM:<j\xf6rg@example.org>\r\n").await;
    assert!(c.reply().await.starts_with("553 5.6.7"));
    let messages = server.handler.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1.mail_from.as_deref(), Some("jörg@example.org"));
}

/// Issue 10, finding 6: a `SIZE=` too large for a number is over any limit: `552 5.3.4`, not
/// a syntax error (and no panic).
#[tokio::test]
async fn issue10_6_size_that_overflows_is_too_large() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    for size in [
        "99999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        c.expect(
            &format!("MAIL FROM:<a@example.org> SIZE={size}"),
            "552 5.3.4",
        )
        .await;
    }
    c.expect("MAIL FROM:<a@example.org> SIZE=ABC", "555 5.5.4")
        .await;
    c.expect("MAIL FROM:<a@example.org> SIZE=1000", "250").await;
    c.expect("QUIT", "221").await;
}

/// Issue 10, finding 6: a NUL byte in a command line is `500 5.5.2`, whatever the command.
#[tokio::test]
async fn issue10_6_nul_in_a_command_line_is_refused() {
    let server = start(test_config()).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    for line in [
        &b"NO\0OP\r\n"[..],
        b"MAIL FROM:<a\0b@example.org>\r\n",
        b"NOOP\0\r\n",
    ] {
        c.send(line).await;
        let reply = c.reply().await;
        assert!(reply.starts_with("500 5.5.2"), "{line:?} -> {reply:?}");
    }
    // Nothing of those lines started a transaction.
    c.expect("RCPT TO:<support@vendor.example>", "503 5.5.1")
        .await;
    c.expect("QUIT", "221").await;
}
