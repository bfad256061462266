//! supportgate with the real Postfix, in the three setups of `docs/postfix.md`. Each test builds
//! a private Postfix instance on loopback from that document's own fragments (read from the
//! file, ports made free), starts it with `postfix -c DIR start`, and passes mail with swaks
//! through Postfix and supportgate to Postfix's `smtp-sink`, which stands in for the helpdesk.
//! Postfix is stopped on drop, also when an assertion fails. Needs root, Postfix and swaks
//! (`scripts/install-test-deps.sh`; CI runs it).

mod auth_support;
mod postfix_support;

// One copy of the gateway harness: the one auth_support (dnsmasq) is built on.
use auth_support::gw as gateway_support;

use postfix_support::milter::Milter;
use postfix_support::{
    doc_swaks, fragment, header_of, require_postfix, swaks, token, Ports, Postfix, Sink,
    Supportgate,
};

fn assert_forwarded_by_supportgate(message: &str, account: &str) {
    assert_eq!(
        header_of(message, "X-Supportgate-Verdict").as_deref(),
        Some("accept"),
        "{message}"
    );
    assert_eq!(
        header_of(message, "X-Supportgate-Account").as_deref(),
        Some(account),
        "{message}"
    );
}

/// The auto-reply to `to` reached the sink through Postfix (the reinjection smtpd), and nothing
/// bounced: issue 11 §3, replies sent to the public smtpd came back into supportgate (`550
/// 5.1.1`) and Postfix bounced them to `<>`.
fn assert_reply_delivered(sink: &Sink, postfix: &Postfix, sg: &Supportgate, to: &str) {
    let reply = sink.wait_reply_to(to).unwrap_or_else(|| {
        panic!(
            "no auto-reply to {to} reached the sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_eq!(header_of(&reply, "To").as_deref(), Some(to), "{reply}");
    // The doc's expected log lines, both sides.
    let log = postfix.maillog();
    assert!(
        log.contains("postfix/reinject/smtpd[")
            && log.contains("connect from localhost[127.0.0.1]"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("postfix/qmgr[") && l.contains("from=<>")),
        "{log}"
    );
    assert!(!log.contains("status=bounced"), "{log}");
    assert!(!log.contains("550 5.1.1"), "{log}");
    let spooled = gateway_support::poll(|| {
        sg.log()
            .contains("spool: delivered to the reply transport")
            .then_some(())
    });
    assert!(spooled.is_some(), "{}", sg.log());
}

/// (a) supportgate is the MX: swaks → supportgate → Postfix reinjection smtpd → queue → sink.
#[test]
fn mx_supportgate_forwards_through_the_postfix_reinjection() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    let mut postfix = Postfix::start(
        &ports,
        &[&fragment("common.main.cf")],
        &[&fragment("reinjection.master.cf")],
        &[],
        &[ports.reinject],
    );
    // The MX listens on port 25 of every address in the doc; here on a loopback port, and
    // without DNS the `verify` mode cannot run: `off`.
    let sg = Supportgate::start(
        &ports,
        &fragment("mx.supportgate.toml"),
        &[
            (
                "server.listen",
                toml::Value::Array(vec![format!("127.0.0.1:{}", ports.smtp).into()]),
            ),
            ("authentication.mode", "off".into()),
        ],
        ports.smtp,
    );

    // The doc's "Test your deployment" lines 1 and 2.
    let accepted = token("mx-accepted");
    let (ok, transcript) = doc_swaks(1, ports.smtp, &accepted);
    assert!(ok, "swaks:\n{transcript}\n{}", sg.log());
    assert!(transcript.contains("<-  250 "), "{transcript}");
    let delivered = sink.wait_for(&accepted).unwrap_or_else(|| {
        panic!(
            "not delivered to the sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_forwarded_by_supportgate(&delivered, "acme");
    // The reinjection smtpd queued it (its Received: is on top of supportgate's).
    let received = gateway_support::header_values(&delivered.replace('\n', "\r\n"), "Received");
    assert!(
        received.iter().any(|r| r.contains("by mx.vendor.example")),
        "{received:?}"
    );
    assert!(
        postfix.maillog().contains("postfix/reinject"),
        "{}",
        postfix.maillog()
    );

    // Refused (not registered, action `reply`): the auto-reply leaves through Postfix.
    let refused = token("mx-refused");
    let (ok, transcript) = doc_swaks(2, ports.smtp, &refused);
    assert!(ok, "swaks:\n{transcript}\n{}", sg.log());
    assert_reply_delivered(&sink, &postfix, &sg, "stranger@elsewhere.example");
    assert!(!sink.has(&refused), "the refused message reached the sink");
    assert!(postfix.stop(), "Postfix did not stop");
}

/// The reasons of the decision lines, in order, once there are `n` of them (a message is
/// kept or forwarded just before its decision line is written).
fn reasons(sg: &Supportgate, n: usize) -> Vec<String> {
    let decisions = gateway_support::poll(|| {
        let d = sg.decisions();
        (d.len() >= n).then_some(d)
    })
    .unwrap_or_else(|| sg.decisions());
    decisions
        .iter()
        .map(|d| gateway_support::field_str(d, "reason"))
        .collect()
}

/// The zones of (b): who may send from 127.0.0.1 (the test client) — acme.example and
/// elsewhere.example; globex.example nobody.
fn before_queue_zones() -> Vec<(&'static str, String)> {
    vec![
        ("acme.example", "v=spf1 ip4:127.0.0.1 -all".into()),
        ("_dmarc.acme.example", "v=DMARC1; p=reject".into()),
        ("elsewhere.example", "v=spf1 ip4:127.0.0.1 -all".into()),
        ("_dmarc.elsewhere.example", "v=DMARC1; p=none".into()),
        ("globex.example", "v=spf1 -all".into()),
        ("_dmarc.globex.example", "v=DMARC1; p=reject".into()),
    ]
}

/// (b) before-queue proxy: swaks → Postfix smtpd → supportgate (verify, with Postfix's
/// XFORWARD) → reinjection → sink; a `reject` reaches swaks as `550 5.7.1` during the session
/// and nothing is delivered or kept; a client's forged `Authentication-Results:` with
/// Postfix's authserv-id does not authenticate (issue 11 §6).
#[test]
fn before_queue_proxy_forwards_and_rejects_in_the_session() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    let dns = auth_support::Dns::start(&before_queue_zones());
    // supportgate first: Postfix's proxy connects to it for every transaction.
    let sg = Supportgate::start(
        &ports,
        &fragment("before-queue.supportgate.toml"),
        &[
            (
                "authentication.nameservers",
                toml::Value::Array(vec![dns.addr.to_string().into()]),
            ),
            ("authentication.dns_timeout", "2s".into()),
        ],
        ports.filter,
    );
    let mut postfix = Postfix::start(
        &ports,
        &[
            &fragment("common.main.cf"),
            &fragment("before-queue.main.cf"),
        ],
        &[
            &fragment("before-queue.master.cf"),
            &fragment("reinjection.master.cf"),
        ],
        &[(
            "relay_recipients",
            &fragment("after-queue.relay_recipients"),
        )],
        &[ports.smtp, ports.reinject],
    );

    // Refused: unknown sender, whose action is `reject` in the fragment.
    let refused = token("bq-refused");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support@vendor.example",
        "Question",
        &[],
        &refused,
    );
    assert!(!ok, "swaks should fail on the refusal:\n{transcript}");
    assert!(
        transcript.contains("<** 550 5.7.1"),
        "the refusal must reach the client in the session:\n{transcript}\n{}\n{}",
        sg.log(),
        postfix.maillog()
    );

    // The doc's line 1: Alice is the owner of acme, SPF passes for the original client.
    let accepted = token("bq-accepted");
    let (ok, transcript) = doc_swaks(1, ports.smtp, &accepted);
    assert!(
        ok,
        "swaks:\n{transcript}\n{}\n{}",
        sg.log(),
        postfix.maillog()
    );
    assert!(transcript.contains("<-  250 2.0.0 "), "{transcript}");
    let delivered = sink.wait_for(&accepted).unwrap_or_else(|| {
        panic!(
            "not delivered to the sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_forwarded_by_supportgate(&delivered, "acme");
    let received = gateway_support::header_values(&delivered.replace('\n', "\r\n"), "Received");
    // Went through the public smtpd first (its Received: from client.example), and
    // supportgate's own Received: names the client that XFORWARD gave, not Postfix's EHLO
    // name (mx.vendor.example).
    let ours: Vec<&String> = received
        .iter()
        .filter(|r| r.contains("by supportgate.vendor.example"))
        .collect();
    assert_eq!(ours.len(), 1, "{received:?}");
    assert!(ours[0].contains("from client.example"), "{received:?}");
    let results =
        gateway_support::header_values(&delivered.replace('\n', "\r\n"), "Authentication-Results");
    assert!(
        results
            .iter()
            .any(|r| r.starts_with("supportgate.vendor.example")
                && r.contains("spf=pass smtp.mailfrom=acme.example")),
        "supportgate verified SPF itself: {results:?}"
    );

    // Line 2: a stranger writing to acme's address (not-registered): an auto-reply.
    let replied = token("bq-replied");
    let (ok, transcript) = doc_swaks(2, ports.smtp, &replied);
    assert!(ok, "swaks:\n{transcript}\n{}", sg.log());
    assert_reply_delivered(&sink, &postfix, &sg, "stranger@elsewhere.example");
    assert!(!sink.has(&replied), "the refused message reached the sink");

    // Line 4: a client-supplied Authentication-Results with Postfix's authserv-id saying
    // that grace@globex.example passes: globex.example authorises nobody, so no.
    let forged = token("bq-forged");
    let (ok, transcript) = doc_swaks(4, ports.smtp, &forged);
    assert!(ok, "swaks:\n{transcript}\n{}", sg.log());
    let (record, _) = sg.wait_quarantined(&forged).unwrap_or_else(|| {
        panic!(
            "the forged message is not in the quarantine:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_eq!(
        record["decision"]["reason"], "unauthenticated-sender",
        "{record}"
    );
    assert!(!sink.has(&forged), "the forged message reached the sink");

    // relay_recipient_maps: Postfix refuses an unlisted recipient before supportgate is asked.
    let (ok, transcript) = swaks(
        ports.smtp,
        "buyer@elsewhere.example",
        "nobody@vendor.example",
        "Hello",
        &[],
        &token("bq-unknown"),
    );
    assert!(!ok, "an unlisted recipient must be refused:\n{transcript}");
    assert!(
        transcript.contains("<** 550 5.1.1") && transcript.contains("relay recipient table"),
        "{transcript}"
    );

    assert_eq!(
        reasons(&sg, 4),
        [
            "unknown-sender",
            "accepted",
            "not-registered",
            "unauthenticated-sender"
        ],
        "{}",
        sg.log()
    );
    let decisions = sg.decisions();
    assert_eq!(
        gateway_support::field_str(&decisions[0], "action"),
        "reject"
    );
    // The doc's expected log lines: the HELO name from XFORWARD, the xforward line, and
    // Postfix's proxy-accept / proxy-reject.
    assert_eq!(
        gateway_support::field_str(&decisions[1], "helo"),
        "client.example"
    );
    assert_eq!(
        gateway_support::field_str(&decisions[3], "action"),
        "quarantine"
    );
    assert!(sg.log().contains("\"xforward\""), "{}", sg.log());
    let log = postfix.maillog();
    assert!(
        log.contains("proxy-accept: END-OF-MESSAGE: 250 2.0.0"),
        "{log}"
    );
    assert!(
        log.contains("proxy-reject: END-OF-MESSAGE: 550 5.7.1"),
        "{log}"
    );

    // Nothing of the rejected message anywhere: not delivered, not kept, not bounced.
    assert!(!sink.has(&refused), "the refused message reached the sink");
    let kept = sg.quarantine();
    assert!(
        kept.iter().all(|(_, m)| !m.contains(&refused)),
        "reject keeps nothing"
    );
    // The accepted message and the auto-reply.
    assert_eq!(sink.messages().len(), 2, "{:?}", sink.messages());
    assert!(postfix.stop(), "Postfix did not stop");
}

/// Setup (c) as docs/postfix.md writes it: supportgate behind Postfix's after-queue filter,
/// scoped to the support addresses, inbound forged Authentication-Results removed, replies
/// and tickets re-injected on the reinjection smtpd; `milter` stands in for OpenDMARC.
fn start_after_queue(ports: &Ports, milter: &Milter) -> (Supportgate, Postfix) {
    let sg = Supportgate::start(
        ports,
        &fragment("after-queue.supportgate.toml"),
        &[],
        ports.filter,
    );
    let milters = format!("smtpd_milters = inet:127.0.0.1:{}\n", milter.port);
    let postfix = Postfix::start(
        ports,
        &[
            &fragment("common.main.cf"),
            &fragment("after-queue.main.cf"),
            &milters,
        ],
        &[
            &fragment("after-queue.master.cf"),
            &fragment("reinjection.master.cf"),
        ],
        &[
            (
                "supportgate_filter",
                &fragment("after-queue.supportgate_filter"),
            ),
            (
                "relay_recipients",
                &fragment("after-queue.relay_recipients"),
            ),
            (
                "supportgate_header_checks",
                &fragment("after-queue.header_checks"),
            ),
        ],
        &[ports.smtp, ports.reinject],
    );
    (sg, postfix)
}

/// The stand-in OpenDMARC passes Alice and the stranger, and has no verdict for anyone else.
fn opendmarc() -> Milter {
    Milter::start(&["alice@acme.example", "stranger@elsewhere.example"])
}

/// (c) on a shared MX (issue 11 §4): only mail for the support addresses goes through
/// supportgate; `sales@` on the same Postfix reaches its own destination untouched, and an
/// address missing from `relay_recipient_maps` is refused by Postfix in the session.
#[test]
fn after_queue_filter_is_scoped_to_the_support_addresses() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    let sales_sink = Sink::start(ports.sales);
    let milter = opendmarc();
    let (sg, mut postfix) = start_after_queue(&ports, &milter);

    // The doc's line 3, then line 1.
    let sales = token("shared-sales");
    let (ok, transcript) = doc_swaks(3, ports.smtp, &sales);
    assert!(ok, "swaks:\n{transcript}");
    let support = token("shared-support");
    let (ok, transcript) = doc_swaks(1, ports.smtp, &support);
    assert!(ok, "swaks:\n{transcript}");
    let (ok, transcript) = swaks(
        ports.smtp,
        "buyer@elsewhere.example",
        "nobody@vendor.example",
        "Hello",
        &[],
        &token("shared-unknown"),
    );
    assert!(!ok, "an unlisted recipient must be refused:\n{transcript}");
    assert!(transcript.contains("<** 550 5.1.1"), "{transcript}");

    let delivered = sales_sink.wait_for(&sales).unwrap_or_else(|| {
        panic!(
            "sales@ not delivered to its sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_eq!(
        header_of(&delivered, "X-Supportgate-Verdict"),
        None,
        "{delivered}"
    );
    let forwarded = sink.wait_for(&support).unwrap_or_else(|| {
        panic!(
            "support mail not delivered:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    // Authenticated by the milter's header, which header_checks left alone.
    assert_forwarded_by_supportgate(&forwarded, "acme");
    // supportgate saw the support message only.
    assert_eq!(reasons(&sg, 1), ["accepted"], "{}", sg.log());
    assert!(!sg.log().contains(&sales), "{}", sg.log());
    assert!(!sink.has(&sales), "sales@ went to the support destination");
    let log = postfix.maillog();
    assert!(!log.contains("status=bounced"), "{log}");
    assert!(postfix.stop(), "Postfix did not stop");
}

/// (c) after-queue content_filter: Postfix queues, delivers to supportgate, which forwards to
/// the reinjection smtpd → sink; a refused message stays in supportgate's quarantine; a
/// client's forged Authentication-Results with Postfix's authserv-id is removed by the doc's
/// header_checks and does not authenticate (issue 11 §6).
#[test]
fn after_queue_content_filter_forwards_and_keeps_refusals() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    let milter = opendmarc();
    let (sg, mut postfix) = start_after_queue(&ports, &milter);

    // The doc's lines 2, 1 and 4.
    let refused = token("aq-refused");
    let (ok, transcript) = doc_swaks(2, ports.smtp, &refused);
    assert!(ok, "Postfix queues first and accepts:\n{transcript}");
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    let accepted = token("aq-accepted");
    let (ok, transcript) = doc_swaks(1, ports.smtp, &accepted);
    assert!(ok, "swaks:\n{transcript}");

    let delivered = sink.wait_for(&accepted).unwrap_or_else(|| {
        panic!(
            "not delivered to the sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_forwarded_by_supportgate(&delivered, "acme");
    let (record, _) = sg.wait_quarantined(&refused).unwrap_or_else(|| {
        panic!(
            "the refused message is not in the quarantine:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_eq!(record["decision"]["reason"], "not-registered", "{record}");
    assert!(!sink.has(&refused), "the refused message reached the sink");
    // Postfix handed it over (250 from supportgate): no bounce, nothing deferred; and the
    // auto-reply left through the reinjection smtpd, not filtered again.
    assert_reply_delivered(&sink, &postfix, &sg, "stranger@elsewhere.example");

    // Forged: the milter has no verdict for Grace, and the client's own "dmarc=pass" header
    // with Postfix's authserv-id is gone before supportgate sees the message.
    let forged = token("aq-forged");
    let (ok, transcript) = doc_swaks(4, ports.smtp, &forged);
    assert!(ok, "swaks:\n{transcript}");
    let (record, message) = sg.wait_quarantined(&forged).unwrap_or_else(|| {
        panic!(
            "the forged message is not in the quarantine:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_eq!(
        record["decision"]["reason"], "unauthenticated-sender",
        "{record}"
    );
    assert!(
        !message.contains("dmarc=pass header.from=globex.example"),
        "header_checks left the forged header:\n{message}"
    );
    assert!(!sink.has(&forged), "the forged message reached the sink");

    assert_eq!(
        reasons(&sg, 3),
        ["not-registered", "accepted", "unauthenticated-sender"],
        "{}",
        sg.log()
    );
    // The doc's expected log lines (Postfix writes its line once it has our 250: waited for,
    // bounded).
    let relay = format!("relay=127.0.0.1[127.0.0.1]:{}", ports.filter);
    let sent_to_supportgate = || {
        postfix
            .maillog()
            .lines()
            .filter(|l| {
                l.contains("postfix/supportgate/smtp[")
                    && l.contains(&relay)
                    && l.contains("status=sent (250 2.0.0")
            })
            .count()
    };
    let _ = gateway_support::poll(|| (sent_to_supportgate() >= 3).then_some(()));
    assert_eq!(sent_to_supportgate(), 3, "{}", postfix.maillog());
    // The accepted message and the auto-reply.
    assert_eq!(sink.messages().len(), 2, "{:?}", sink.messages());
    assert!(postfix.stop(), "Postfix did not stop");
}
