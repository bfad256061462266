//! supportgate with the real Postfix, in the three setups of `docs/postfix.md`. Each test builds
//! a private Postfix instance on loopback from that document's own fragments (read from the
//! file, ports made free), starts it with `postfix -c DIR start`, and passes mail with swaks
//! through Postfix and supportgate to Postfix's `smtp-sink`, which stands in for the helpdesk.
//! Postfix is stopped on drop, also when an assertion fails. Needs root, Postfix and swaks
//! (`scripts/install-test-deps.sh`; CI runs it).

mod gateway_support;
mod postfix_support;

use postfix_support::{
    fragment, header_of, milter_pass, require_postfix, swaks, token, Ports, Postfix, Sink,
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
    let log = postfix.maillog();
    assert!(log.contains("postfix/reinject"), "{log}");
    assert!(!log.contains("status=bounced"), "{log}");
    assert!(!log.contains("550 5.1.1"), "{log}");
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

    let accepted = token("mx-accepted");
    let (ok, transcript) = swaks(
        ports.smtp,
        "alice@acme.example",
        "support@vendor.example",
        "Import des tickets en erreur",
        &[],
        &accepted,
    );
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

    // Refused (unknown sender, action `reply`): the auto-reply leaves through Postfix.
    let refused = token("mx-refused");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support@vendor.example",
        "Question",
        &[],
        &refused,
    );
    assert!(ok, "swaks:\n{transcript}\n{}", sg.log());
    assert_reply_delivered(&sink, &postfix, &sg, "stranger@elsewhere.example");
    assert!(!sink.has(&refused), "the refused message reached the sink");
    assert!(postfix.stop(), "Postfix did not stop");
}

/// (b) before-queue proxy: swaks → Postfix smtpd → supportgate → reinjection → sink; a
/// `reject` reaches swaks as `550 5.7.1` during the session and nothing is delivered or kept.
#[test]
fn before_queue_proxy_forwards_and_rejects_in_the_session() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    // supportgate first: Postfix's proxy connects to it for every transaction.
    let sg = Supportgate::start(
        &ports,
        &fragment("before-queue.supportgate.toml"),
        &[],
        ports.filter,
    );
    let mut postfix = Postfix::start(
        &ports,
        &[&fragment("common.main.cf")],
        &[
            &fragment("before-queue.master.cf"),
            &fragment("reinjection.master.cf"),
        ],
        &[],
        &[ports.smtp, ports.reinject],
    );

    // Refused: unknown sender, whose action is `reject` in the fragment.
    let refused = token("bq-refused");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support@vendor.example",
        "Question",
        &[&milter_pass("elsewhere.example")],
        &refused,
    );
    assert!(!ok, "swaks should fail on the refusal:\n{transcript}");
    assert!(
        transcript.contains("<** 550 5.7.1"),
        "the refusal must reach the client in the session:\n{transcript}\n{}\n{}",
        sg.log(),
        postfix.maillog()
    );

    // Accepted: Alice is the owner of acme.
    let accepted = token("bq-accepted");
    let (ok, transcript) = swaks(
        ports.smtp,
        "alice@acme.example",
        "support+acme@vendor.example",
        "Import des tickets en erreur",
        &[&milter_pass("acme.example")],
        &accepted,
    );
    assert!(
        ok,
        "swaks:\n{transcript}\n{}\n{}",
        sg.log(),
        postfix.maillog()
    );
    let delivered = sink.wait_for(&accepted).unwrap_or_else(|| {
        panic!(
            "not delivered to the sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_forwarded_by_supportgate(&delivered, "acme");
    // Went through the public smtpd first: its Received: (from client.example) is below ours.
    let received = gateway_support::header_values(&delivered.replace('\n', "\r\n"), "Received");
    assert!(
        received.iter().any(|r| r.contains("from client.example")),
        "{received:?}"
    );
    // Refused with an auto-reply (a stranger writing to acme's address: not-registered).
    let replied = token("bq-replied");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support+acme@vendor.example",
        "Question",
        &[&milter_pass("elsewhere.example")],
        &replied,
    );
    assert!(ok, "swaks:\n{transcript}\n{}", sg.log());
    assert_reply_delivered(&sink, &postfix, &sg, "stranger@elsewhere.example");
    assert!(!sink.has(&replied), "the refused message reached the sink");

    // Authenticated by the "milter" header from the trusted authserv-id.
    let decisions = sg.decisions();
    assert_eq!(decisions.len(), 3, "{}", sg.log());
    assert_eq!(
        gateway_support::field_str(&decisions[0], "reason"),
        "unknown-sender"
    );
    assert_eq!(
        gateway_support::field_str(&decisions[0], "action"),
        "reject"
    );
    assert_eq!(
        gateway_support::field_str(&decisions[1], "reason"),
        "accepted"
    );
    assert_eq!(
        gateway_support::field_str(&decisions[2], "reason"),
        "not-registered"
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
/// scoped to the support addresses, replies and tickets re-injected on the reinjection smtpd.
fn start_after_queue(ports: &Ports) -> (Supportgate, Postfix) {
    let sg = Supportgate::start(
        ports,
        &fragment("after-queue.supportgate.toml"),
        &[],
        ports.filter,
    );
    let postfix = Postfix::start(
        ports,
        &[
            &fragment("common.main.cf"),
            &fragment("after-queue.main.cf"),
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
        ],
        &[ports.smtp, ports.reinject],
    );
    (sg, postfix)
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
    let (sg, mut postfix) = start_after_queue(&ports);

    let sales = token("shared-sales");
    let (ok, transcript) = swaks(
        ports.smtp,
        "buyer@elsewhere.example",
        "sales@vendor.example",
        "Quote",
        &[],
        &sales,
    );
    assert!(ok, "swaks:\n{transcript}");
    let support = token("shared-support");
    let (ok, transcript) = swaks(
        ports.smtp,
        "alice@acme.example",
        "support+acme@vendor.example",
        "Import des tickets en erreur",
        &[&milter_pass("acme.example")],
        &support,
    );
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
    assert_forwarded_by_supportgate(&forwarded, "acme");
    // supportgate saw the support message only.
    let decisions = sg.decisions();
    assert_eq!(decisions.len(), 1, "{}", sg.log());
    assert!(!sg.log().contains(&sales), "{}", sg.log());
    assert!(!sink.has(&sales), "sales@ went to the support destination");
    let log = postfix.maillog();
    assert!(!log.contains("status=bounced"), "{log}");
    assert!(postfix.stop(), "Postfix did not stop");
}

/// (c) after-queue content_filter: Postfix queues, delivers to supportgate, which forwards to
/// the reinjection smtpd → sink; a refused message stays in supportgate's quarantine.
#[test]
fn after_queue_content_filter_forwards_and_keeps_refusals() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    let (sg, mut postfix) = start_after_queue(&ports);

    let refused = token("aq-refused");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support@vendor.example",
        "Question",
        &[&milter_pass("elsewhere.example")],
        &refused,
    );
    assert!(ok, "Postfix queues first and accepts:\n{transcript}");
    let accepted = token("aq-accepted");
    let (ok, transcript) = swaks(
        ports.smtp,
        "alice@acme.example",
        "support+acme@vendor.example",
        "Import des tickets en erreur",
        &[&milter_pass("acme.example")],
        &accepted,
    );
    assert!(ok, "swaks:\n{transcript}");

    let delivered = sink.wait_for(&accepted).unwrap_or_else(|| {
        panic!(
            "not delivered to the sink:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_forwarded_by_supportgate(&delivered, "acme");
    assert!(
        postfix.maillog().contains("postfix/supportgate"),
        "delivered to supportgate by the `supportgate` transport:\n{}",
        postfix.maillog()
    );

    let (record, _) = sg.wait_quarantined(&refused).unwrap_or_else(|| {
        panic!(
            "the refused message is not in the quarantine:\n{}\n{}",
            sg.log(),
            postfix.maillog()
        )
    });
    assert_eq!(record["decision"]["reason"], "unknown-sender", "{record}");
    assert!(!sink.has(&refused), "the refused message reached the sink");
    // Postfix handed it over (250 from supportgate): no bounce, nothing deferred; and the
    // auto-reply left through the reinjection smtpd, not filtered again.
    assert_reply_delivered(&sink, &postfix, &sg, "stranger@elsewhere.example");
    // The accepted message and the auto-reply.
    assert_eq!(sink.messages().len(), 2, "{:?}", sink.messages());
    assert!(postfix.stop(), "Postfix did not stop");
}
