//! Black-box: `supportgate check` and `supportgate serve` decide the same message the same way.
//! For every case (our own table, plus every `samples/*.eml` in the checkout), `check` is run
//! with the envelope as flags and the same bytes are sent over SMTP with the same envelope; the
//! reason, account, agent, role and action of check's JSON must equal serve's decision log line.
//! The SPEC §10 reasons are among them; `mail-loop` only as far as `check` can say it (no
//! history: see the gateway's limits below).

mod gateway_support;

use gateway_support::{field_str, message, repo_path, Gateway, Options};
use serde_json::Value;
use std::path::Path;

struct Case {
    name: String,
    /// The envelope sender; "" is the null reverse-path.
    mail_from: String,
    rcpt: String,
    bytes: Vec<u8>,
    /// What we expect (reason) for our own cases, so the table itself cannot drift into
    /// comparing two identical mistakes unnoticed; None for samples.
    expected_reason: Option<&'static str>,
}

fn case(
    name: &str,
    mail_from: &str,
    rcpt: &str,
    bytes: Vec<u8>,
    expected_reason: &'static str,
) -> Case {
    Case {
        name: name.into(),
        mail_from: mail_from.into(),
        rcpt: rcpt.into(),
        bytes,
        expected_reason: Some(expected_reason),
    }
}

fn own_cases() -> Vec<Case> {
    let acme = "support+acme@vendor.example";
    let globex = "support+globex@vendor.example";
    let plain = "support@vendor.example";
    vec![
        case(
            "accepted-agent-by-tag",
            "chloe@acme.example",
            acme,
            message(
                "Chloé <chloe@acme.example>",
                "Printer queue stuck",
                &[],
                "Hi.\n",
            ),
            "accepted",
        ),
        case(
            "accepted-admin-by-subject",
            "bruno@acme.example",
            plain,
            message("bruno@acme.example", "[acme] Login page slow", &[], "Hi.\n"),
            "accepted",
        ),
        case(
            "accepted-owner-by-mailbox-secondary-address",
            "alice.martin@gmail.example",
            "acme@support.vendor.example",
            message(
                "Alice <Alice.Martin@GMAIL.example>",
                "Dashboard",
                &[],
                "Hi.\n",
            ),
            "accepted",
        ),
        case(
            "accepted-by-sender-registrations",
            "grace@globex.example",
            plain,
            message("grace@globex.example", "Question", &[], "Hi.\n"),
            "accepted",
        ),
        case(
            "accepted-null-reverse-path",
            "",
            globex,
            message("hank@globex.example", "Question", &[], "Hi.\n"),
            "accepted",
        ),
        case(
            "not-registered",
            "mallory@else.example",
            acme,
            message("mallory@else.example", "Hello", &[], "Hi.\n"),
            "not-registered",
        ),
        case(
            "not-registered-agent-of-another-account",
            "hank@globex.example",
            acme,
            message("hank@globex.example", "Hello", &[], "Hi.\n"),
            "not-registered",
        ),
        case(
            "unknown-sender",
            "mallory@else.example",
            plain,
            message("mallory@else.example", "Hello", &[], "Hi.\n"),
            "unknown-sender",
        ),
        case(
            "helpdesk-address",
            "support@acme.example",
            acme,
            message("support@acme.example", "Fwd: customer issue", &[], "Hi.\n"),
            "helpdesk-address",
        ),
        case(
            "group-address-from-directory",
            "team@acme.example",
            acme,
            message("team@acme.example", "Hello", &[], "Hi.\n"),
            "group-address",
        ),
        case(
            "group-address-from-list-headers",
            "chloe@acme.example",
            acme,
            message(
                "chloe@acme.example",
                "Hello",
                &["List-Id: <staff.acme.example>", "Precedence: list"],
                "Hi.\n",
            ),
            "group-address",
        ),
        case(
            "p4-agent-asks-for-account-deletion",
            "hank@globex.example",
            globex,
            message(
                "hank@globex.example",
                "Please delete our account",
                &[],
                "Hi.\n",
            ),
            "authorization-required",
        ),
        case(
            "p4-in-the-body",
            "chloe@acme.example",
            acme,
            message(
                "chloe@acme.example",
                "A question",
                &[],
                "Can I get a refund?\n",
            ),
            "authorization-required",
        ),
        case(
            "p4-owner-may-ask",
            "alice@acme.example",
            acme,
            message("alice@acme.example", "Invoice for March", &[], "Hi.\n"),
            "accepted",
        ),
        case(
            "shared-address",
            "desk@globex.example",
            globex,
            message("desk@globex.example", "Hello", &[], "Hi.\n"),
            "shared-address",
        ),
        case(
            "malformed-two-from-mailboxes",
            "chloe@acme.example",
            acme,
            message(
                "chloe@acme.example, bruno@acme.example",
                "Hello",
                &[],
                "Hi.\n",
            ),
            "malformed-sender",
        ),
        case(
            "malformed-no-from",
            "chloe@acme.example",
            acme,
            b"Subject: no from\r\nMessage-ID: <nofrom@client.example>\r\n\r\nHi.\r\n".to_vec(),
            "malformed-sender",
        ),
        case(
            "ambiguous-account",
            "dana@consulting.example",
            plain,
            message("dana@consulting.example", "Hello", &[], "Hi.\n"),
            "ambiguous-account",
        ),
        case(
            "blocked-sender",
            "deals@blocked.example",
            plain,
            message("deals@blocked.example", "Offer", &[], "Hi.\n"),
            "blocked-sender",
        ),
        case(
            "automated-out-of-office-of-an-agent",
            "chloe@acme.example",
            acme,
            message(
                "chloe@acme.example",
                "Automatic reply: Printer",
                &["Auto-Submitted: auto-replied"],
                "Away.\n",
            ),
            "automated",
        ),
        case(
            "no-reply-sender",
            "noreply@acme.example",
            acme,
            message("noreply@acme.example", "Digest", &[], "Hi.\n"),
            "no-reply-sender",
        ),
        case(
            "account-inactive",
            "uma@umbrella.example",
            plain,
            message("uma@umbrella.example", "Export", &[], "Hi.\n"),
            "account-inactive",
        ),
        case(
            "unregistered-reply-to",
            "chloe@acme.example",
            acme,
            message(
                "chloe@acme.example",
                "Printer",
                &["Reply-To: someone@else.example"],
                "Hi.\n",
            ),
            "unregistered-reply-to",
        ),
        case(
            "ambiguous-resolved-by-tag",
            "dana@consulting.example",
            "support+initech@vendor.example",
            message("dana@consulting.example", "Hello", &[], "Hi.\n"),
            "accepted",
        ),
    ]
}

/// Every `samples/*.eml` in this checkout (there may be none yet). The envelope: a sibling
/// `NNN.json` may say `mail_from` and `rcpt`; otherwise the From address and the plain
/// support address. Line endings are normalised to CRLF (SMTP refuses bare LF), and `check`
/// reads the normalised bytes too.
fn sample_cases() -> Vec<Case> {
    let dir = repo_path("samples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    paths.sort();
    paths
        .iter()
        .filter_map(|path| {
            let raw = std::fs::read(path).unwrap();
            let bytes = crlf(&raw);
            let sidecar: Value = std::fs::read(path.with_extension("json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let envelope = sidecar.get("envelope").unwrap_or(&sidecar);
            // A sample's `.args` (one flag or value per line) gives its envelope.
            let args: Vec<String> = std::fs::read_to_string(path.with_extension("args"))
                .map(|t| t.lines().map(str::to_string).collect())
                .unwrap_or_default();
            let flag = |name: &str| {
                args.iter()
                    .position(|a| a == name)
                    .and_then(|i| args.get(i + 1).cloned())
            };
            let mail_from = flag("--mail-from")
                .or_else(|| {
                    envelope
                        .get("mail_from")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .map(|m| m.trim_matches(['<', '>']).to_string())
                .unwrap_or_else(|| from_address(&bytes));
            let rcpt_flag = flag("--rcpt").map(Value::String);
            let rcpt = match rcpt_flag
                .as_ref()
                .or_else(|| envelope.get("rcpt"))
                .or_else(|| envelope.get("rcpt_to"))
            {
                Some(Value::String(r)) => r.clone(),
                Some(Value::Array(list)) => list
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("support@vendor.example")
                    .to_string(),
                _ => "support@vendor.example".to_string(),
            };
            let needs_other_setup = args
                .iter()
                .any(|a| a == "--config" || a == "--directory" || a == "--assume-authenticated");
            (!needs_other_setup).then(|| Case {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                mail_from,
                rcpt,
                bytes,
                expected_reason: None,
            })
        })
        .collect()
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The address in the first From header (crude: `<…>` or the bare value); "" if none.
fn from_address(bytes: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(bytes)
        .and_then(|m| {
            m.from()
                .and_then(|f| f.first())
                .and_then(|a| a.address.as_deref().map(str::to_string))
        })
        // A From that SMTP would refuse as a reverse-path: use a plain stranger instead (both
        // `check` and `serve` get the same envelope).
        .filter(|a| a.contains('@') && !a.contains(char::is_whitespace))
        .unwrap_or_else(|| "stranger@else.example".to_string())
}

fn check(gw: &Gateway, case: &Case, file: &Path) -> Value {
    let mail_from = if case.mail_from.is_empty() {
        "<>"
    } else {
        &case.mail_from
    };
    let output = gw.cli(&[
        "check",
        "--mail-from",
        mail_from,
        "--rcpt",
        &case.rcpt,
        file.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}: check exited {}: {}",
        case.name,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: check output is not JSON ({e}): {}",
            case.name,
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn json_str(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[test]
fn check_and_serve_decide_every_case_the_same_way() {
    // `check` keeps no sender history: it decides every message as if its sender had sent
    // nothing else within `[limits] sender_window` (mail-loop). This gateway receives every
    // case from a few senders in a row, so its limit is set out of reach to decide under the
    // same assumption; the counting itself is tested in `gateway_mail_loop.rs`.
    let gw = Gateway::start(Options {
        limits: vec![("sender_messages", 1_000_000.into())],
        ..Options::default()
    });
    let mut cases = own_cases();
    let samples = sample_cases();
    eprintln!("{} own cases, {} samples", cases.len(), samples.len());
    cases.extend(samples);
    assert!(cases.len() >= 12);

    let mut mismatches = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = gw.dir.path().join(format!("case-{i}.eml"));
        std::fs::write(&file, &case.bytes).unwrap();
        let offline = check(&gw, case, &file);

        let reply = gw.send(&case.mail_from, &[case.rcpt.as_str()], &case.bytes);
        let decisions = gw.wait_decisions(i + 1);
        assert_eq!(
            decisions.len(),
            i + 1,
            "{}: one decision line per message expected",
            case.name
        );
        let online = &decisions[i];

        if let Some(expected) = case.expected_reason {
            if json_str(&offline, "reason") != expected {
                mismatches.push(format!(
                    "{}: check says {}, the case expects {expected}",
                    case.name,
                    json_str(&offline, "reason")
                ));
            }
        }
        for key in ["verdict", "reason", "account", "agent", "role", "action"] {
            let (a, b) = (json_str(&offline, key), field_str(online, key));
            if a != b {
                mismatches.push(format!(
                    "{}: {key}: check {a:?}, serve {b:?} (SMTP reply {reply:?})",
                    case.name
                ));
            }
        }
        let reject = json_str(&offline, "action") == "reject";
        assert_eq!(
            reply.starts_with("550 5.7.1"),
            reject,
            "{}: reply {reply:?} for action {}",
            case.name,
            json_str(&offline, "action")
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
