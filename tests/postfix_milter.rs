//! supportgate as a milter of the real Postfix (docs/postfix.md, setup (d)): the doc's own
//! fragments run a private Postfix on loopback with `smtpd_milters` pointing at supportgate,
//! swaks speaks to Postfix's public smtpd, and Postfix's `smtp-sink` stands in for the
//! helpdesk (and the Internet) and for `sales@`, another mailbox of the same MX. Needs root,
//! Postfix and swaks (`scripts/install-test-deps.sh`; CI runs it).

mod gateway_support;
mod postfix_support;

use gateway_support::field_str;
use postfix_support::{
    fragment, header_of, milter_pass, require_postfix, swaks, token, Ports, Postfix, Sink,
    Supportgate,
};

fn start(ports: &Ports) -> (Supportgate, Postfix) {
    // supportgate first: Postfix connects to its milter for every session.
    let sg = Supportgate::start(
        ports,
        &fragment("milter.supportgate.toml"),
        &[],
        ports.milter,
    );
    let postfix = Postfix::start(
        ports,
        &[&fragment("common.main.cf"), &fragment("milter.main.cf")],
        &[
            &fragment("milter.master.cf"),
            &fragment("reinjection.master.cf"),
        ],
        &[],
        &[ports.smtp, ports.reinject],
    );
    (sg, postfix)
}

/// The envelope recipients smtp-sink recorded for a message.
fn envelope_recipients(message: &str) -> Vec<String> {
    message
        .lines()
        .filter_map(|l| l.strip_prefix("X-Rcpt-Args: "))
        .filter_map(|args| args.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn milter_forwards_keeps_rejects_and_leaves_other_mailboxes_alone() {
    require_postfix();
    let ports = Ports::new();
    let sink = Sink::start(ports.sink);
    let sales = Sink::start(ports.sales);
    let (sg, mut postfix) = start(&ports);
    let logs = |sg: &Supportgate, postfix: &Postfix| format!("{}\n{}", sg.log(), postfix.maillog());

    // A registered agent: Postfix delivers it, stamped by supportgate; the forged verdict and
    // the forged Authentication-Results of supportgate's own authserv-id are gone.
    let accepted = token("milter-accepted");
    let (ok, transcript) = swaks(
        ports.smtp,
        "alice@acme.example",
        "support+acme@vendor.example",
        "Import des tickets en erreur",
        &[
            &milter_pass("acme.example"),
            "X-Supportgate-Verdict: forged",
            "Authentication-Results: supportgate.vendor.example; dmarc=pass",
        ],
        &accepted,
    );
    assert!(ok, "swaks:\n{transcript}\n{}", logs(&sg, &postfix));
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: queued"),
        "{transcript}"
    );
    let delivered = sink
        .wait_for(&accepted)
        .unwrap_or_else(|| panic!("not delivered:\n{}", logs(&sg, &postfix)));
    let crlf = delivered.replace('\n', "\r\n");
    assert_eq!(
        gateway_support::header_values(&crlf, "X-Supportgate-Verdict"),
        vec!["accept".to_string()],
        "{delivered}"
    );
    assert_eq!(
        header_of(&delivered, "X-Supportgate-Account").as_deref(),
        Some("acme")
    );
    let ours: Vec<String> = gateway_support::header_values(&crlf, "Authentication-Results")
        .into_iter()
        .filter(|v| v.starts_with("supportgate.vendor.example"))
        .collect();
    assert_eq!(ours.len(), 1, "{delivered}");
    assert!(ours[0].contains("dmarc=pass"), "{}", ours[0]);
    // Delivered by Postfix straight from its queue (no reinjection hop, no Received: of ours).
    assert!(!delivered.contains("(supportgate)"), "{delivered}");
    assert_eq!(
        envelope_recipients(&delivered),
        ["<support+acme@vendor.example>"]
    );

    // A stranger writing to acme's address (not-registered → reply): Postfix answers 250, the
    // message is in supportgate's quarantine, the auto-reply reaches the sender, nothing the
    // helpdesk.
    let replied = token("milter-replied");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support+acme@vendor.example",
        "Question",
        &[&milter_pass("elsewhere.example")],
        &replied,
    );
    assert!(ok, "swaks:\n{transcript}\n{}", logs(&sg, &postfix));
    let (record, kept) = sg
        .wait_quarantined(&replied)
        .unwrap_or_else(|| panic!("not kept:\n{}", logs(&sg, &postfix)));
    assert_eq!(record["decision"]["reason"], "not-registered", "{record}");
    // The message rebuilt from the milter steps: CRLF only, header and body as sent.
    assert!(!kept.replace("\r\n", "").contains('\n'), "{kept:?}");
    assert!(kept.contains("\r\nSubject: Question\r\n"), "{kept:?}");
    assert!(kept.contains(&format!("\r\n\r\n{replied}")), "{kept:?}");
    let reply = sink
        .wait_reply_to("stranger@elsewhere.example")
        .unwrap_or_else(|| panic!("no auto-reply:\n{}", logs(&sg, &postfix)));
    assert_eq!(
        header_of(&reply, "To").as_deref(),
        Some("stranger@elsewhere.example")
    );
    assert!(
        postfix.maillog().contains("milter-discard"),
        "{}",
        postfix.maillog()
    );

    // unknown-sender is `reject` in the fragment: 550 5.7.1 in the session, nothing kept.
    let rejected = token("milter-rejected");
    let (ok, transcript) = swaks(
        ports.smtp,
        "nobody@elsewhere.example",
        "support@vendor.example",
        "Question",
        &[&milter_pass("elsewhere.example")],
        &rejected,
    );
    assert!(!ok, "swaks should fail on the refusal:\n{transcript}");
    assert!(
        transcript.contains("<** 550 5.7.1"),
        "the refusal must reach the client in the session:\n{transcript}\n{}",
        logs(&sg, &postfix)
    );

    // Another mailbox of the same MX: delivered untouched, supportgate decides nothing.
    let decisions_before = sg.decisions().len();
    let other = token("milter-sales");
    let (ok, transcript) = swaks(
        ports.smtp,
        "buyer@elsewhere.example",
        "sales@vendor.example",
        "Quote",
        &[],
        &other,
    );
    assert!(ok, "swaks:\n{transcript}\n{}", logs(&sg, &postfix));
    let for_sales = sales
        .wait_for(&other)
        .unwrap_or_else(|| panic!("sales@ got nothing:\n{}", logs(&sg, &postfix)));
    assert!(!for_sales.contains("X-Supportgate-"), "{for_sales}");
    assert_eq!(sg.decisions().len(), decisions_before, "{}", sg.log());

    // A transaction for a refused support recipient and sales@: the support recipient is
    // removed (and its message kept), sales@ gets the message untouched.
    let mixed = token("milter-mixed");
    let (ok, transcript) = swaks(
        ports.smtp,
        "stranger@elsewhere.example",
        "support+acme@vendor.example,sales@vendor.example",
        "Question",
        &[&milter_pass("elsewhere.example")],
        &mixed,
    );
    assert!(ok, "swaks:\n{transcript}\n{}", logs(&sg, &postfix));
    let for_sales = sales
        .wait_for(&mixed)
        .unwrap_or_else(|| panic!("sales@ got nothing:\n{}", logs(&sg, &postfix)));
    assert_eq!(envelope_recipients(&for_sales), ["<sales@vendor.example>"]);
    assert!(!for_sales.contains("X-Supportgate-"), "{for_sales}");
    assert!(sg.wait_quarantined(&mixed).is_some(), "{}", sg.log());
    assert!(!sink.has(&mixed), "the refused recipient got it");

    // Nothing refused reached the helpdesk; nothing bounced.
    assert!(!sink.has(&replied) && !sink.has(&rejected));
    assert!(
        !postfix.maillog().contains("status=bounced"),
        "{}",
        postfix.maillog()
    );
    let decisions = sg.decisions();
    let reasons: Vec<String> = decisions.iter().map(|d| field_str(d, "reason")).collect();
    assert_eq!(
        reasons,
        [
            "accepted",
            "not-registered",
            "unknown-sender",
            "not-registered"
        ],
        "{}",
        sg.log()
    );
    assert!(sg.log().contains("mta_queue_id"), "{}", sg.log());

    // supportgate stopped: Postfix answers 4xx (milter_default_action = tempfail), never 250.
    drop(sg);
    let later = token("milter-down");
    let (ok, transcript) = swaks(
        ports.smtp,
        "alice@acme.example",
        "support+acme@vendor.example",
        "Import des tickets en erreur",
        &[&milter_pass("acme.example")],
        &later,
    );
    assert!(!ok, "swaks should fail:\n{transcript}");
    assert!(
        transcript.contains("<** 451 4.7.1"),
        "Postfix must tempfail without its milter:\n{transcript}\n{}",
        postfix.maillog()
    );
    assert!(!sink.has(&later));
    assert!(postfix.stop(), "Postfix did not stop");
}
