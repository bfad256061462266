//! Black-box: an `smtp://` ticket queue (and reply transport) with a real upstream SMTP server
//! (SPEC §6: 250 only once the upstream took the message; upstream down → 451 4.4.1 and the
//! client keeps the message).

mod gateway_support;

use gateway_support::sink::{closed_port, Answer, Sink};
use gateway_support::{field_str, header, message, Gateway, Options, HOSTNAME};

const ACME: &str = "support+acme@vendor.example";

fn accepted_message() -> Vec<u8> {
    message(
        "chloe@acme.example",
        "Printer queue stuck",
        &["X-Supportgate-Verdict: refuse"],
        "Hello.\n.dot\n",
    )
}

fn gateway_with_queue(target: String) -> Gateway {
    Gateway::start(Options {
        queue: Some(target),
        ..Options::default()
    })
}

#[test]
fn accepted_mail_reaches_the_upstream_with_our_headers_and_the_client_gets_250() {
    let sink = Sink::start(Answer::Accept);
    let gw = gateway_with_queue(sink.url());
    let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message());
    assert!(reply.starts_with("250 "), "{reply}\n{}", gw.log());

    let received = sink.wait_for(1);
    assert_eq!(received.len(), 1);
    let upstream = &received[0];
    assert!(
        upstream.mail_from.starts_with("<chloe@acme.example>"),
        "{upstream:?}"
    );
    assert_eq!(upstream.rcpt_to.len(), 1);
    assert!(
        upstream.rcpt_to[0].starts_with(&format!("<{ACME}>")),
        "{upstream:?}"
    );
    let data = &upstream.data;
    assert!(data.starts_with("Received: "), "{data}");
    let queue_id = field_str(&gw.wait_decisions(1)[0], "queue_id");
    assert!(header(data, "Received").contains(&queue_id), "{data}");
    assert!(header(data, "Authentication-Results").starts_with(HOSTNAME));
    assert_eq!(header(data, "X-Supportgate-Verdict"), "accept");
    assert_eq!(header(data, "X-Supportgate-Reason"), "accepted");
    assert_eq!(header(data, "X-Supportgate-Account"), "acme");
    assert_eq!(header(data, "X-Supportgate-Agent"), "chloe@acme.example");
    assert_eq!(header(data, "X-Supportgate-Role"), "agent");
    assert!(data.contains("\r\n\r\nHello.\r\n.dot\r\n"), "{data}");
    gw.assert_nothing_kept();
}

/// The original bytes are kept (SPEC §4): the upstream must get exactly our headers followed by
/// the client's message, not one more line.
#[test]
fn the_upstream_gets_the_original_body_byte_for_byte() {
    let sink = Sink::start(Answer::Accept);
    let gw = gateway_with_queue(sink.url());
    let original = accepted_message();
    let reply = gw.send("chloe@acme.example", &[ACME], &original);
    assert!(reply.starts_with("250 "), "{reply}");
    let data = &sink.wait_for(1)[0].data;
    let body_at = data.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(
        &data[body_at..],
        "Hello.\r\n.dot\r\n",
        "the upstream got a different body"
    );
}

#[test]
fn upstream_permanent_refusal_is_passed_on_as_5xx() {
    let sink = Sink::start(Answer::PermFail);
    let gw = gateway_with_queue(sink.url());
    let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message());
    assert!(reply.starts_with('5'), "{reply}");
    assert_eq!(sink.wait_for(1).len(), 1);
    let decision = &gw.wait_decisions(1)[0];
    assert_eq!(field_str(decision, "reason"), "accepted");
    assert_eq!(field_str(decision, "smtp_code"), reply[..3]);
    gw.assert_nothing_kept();
}

#[test]
fn upstream_temporary_failure_gives_451_4_4_1() {
    let sink = Sink::start(Answer::TempFail);
    let gw = gateway_with_queue(sink.url());
    let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message());
    assert!(reply.starts_with("451 4.4.1 "), "{reply}");
    assert_eq!(sink.wait_for(1).len(), 1);
    gw.assert_nothing_kept();
}

#[test]
fn upstream_down_gives_451_4_4_1_and_nothing_is_kept() {
    let gw = gateway_with_queue(format!("smtp://127.0.0.1:{}", closed_port()));
    let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message());
    assert!(reply.starts_with("451 4.4.1 "), "{reply}");
    let decision = &gw.wait_decisions(1)[0];
    assert_eq!(field_str(decision, "outcome"), "deferred");
    gw.assert_nothing_kept();
}

#[test]
fn auto_replies_go_out_with_the_null_reverse_path_to_the_envelope_sender() {
    let sink = Sink::start(Answer::Accept);
    let gw = Gateway::start(Options {
        replies: Some(sink.url()),
        ..Options::default()
    });
    let body = message("mallory@else.example", "Hello", &[], "Hi.\n");
    let reply = gw.send("mallory@else.example", &[ACME], &body);
    assert!(reply.starts_with("250 "), "{reply}");
    let sent = sink.wait_for(1);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].mail_from.starts_with("<>"), "{:?}", sent[0]);
    assert!(
        sent[0].rcpt_to[0].starts_with("<mallory@else.example>"),
        "{:?}",
        sent[0]
    );
    assert_eq!(header(&sent[0].data, "Auto-Submitted"), "auto-replied");
    assert_eq!(gw.quarantine().len(), 1);
}

/// SPEC §4: "Refused mail is never silently dropped." One transaction for two accounts: the
/// acme part is accepted but the upstream refuses it for good, the globex part is refused and
/// kept. The client must not get a bare 250 while the acme part is neither delivered nor kept.
#[test]
fn an_upstream_refusal_in_a_split_transaction_is_not_lost_behind_a_250() {
    let sink = Sink::start(Answer::PermFail);
    let gw = gateway_with_queue(sink.url());
    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let reply = gw.send(
        "chloe@acme.example",
        &[ACME, "support+globex@vendor.example"],
        &body,
    );
    assert_eq!(sink.wait_for(1).len(), 1);
    let decisions = gw.wait_decisions(2);
    let acme_kept = gw
        .quarantine()
        .iter()
        .any(|(_, record, _)| record["decision"]["account"] == "acme");
    assert!(
        !reply.starts_with("250") || acme_kept,
        "client told 250 ({reply}) but the acme part was refused upstream and not kept; \
         decisions: {decisions:#?}"
    );
}
