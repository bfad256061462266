//! Black-box: the web console (SPEC §13) of a real `supportgate serve`, over real HTTP on a
//! loopback port, with messages put into the quarantine over real SMTP.

mod console_support;
mod gateway_support;
mod ops_support;

use console_support::{form_body, Console, PASSWORD, USER};
use gateway_support::message;

/// Sends one message that the gateway keeps; returns its queue id (from the 250 reply).
fn keep(
    console: &Console,
    from: &str,
    rcpt: &str,
    subject: &str,
    extra: &[&str],
    body: &str,
) -> String {
    let reply = console
        .server
        .send(from, &[rcpt], &message(from, subject, extra, body));
    assert!(reply.starts_with("250 "), "{reply}");
    reply
        .split_whitespace()
        .last()
        .expect("a queue id in the 250 reply")
        .to_string()
}

#[test]
fn sign_in_sessions_cookies_and_security_headers() {
    let console = Console::start(None);
    let mut client = console.client();
    // Not signed in: sent to the sign-in page, with a session cookie for its CSRF token.
    let first = client.get("/quarantine");
    assert_eq!(first.status, 303);
    assert_eq!(first.header("location"), Some("/sign-in"));
    let cookie = first.set_cookies()[0].to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let page = client.get("/sign-in");
    for (name, value) in [
        ("content-security-policy", "default-src 'self'"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert!(
            page.header(name).is_some_and(|v| v.contains(value)),
            "{name}: {:?}",
            page.header(name)
        );
    }
    assert!(page.body.contains("name=\"username\""), "{}", page.body);
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    assert!(
        !page.body.contains("<script"),
        "no JavaScript: {}",
        page.body
    );
    let before = client.cookies.get("sg_session").cloned();

    let wrong = client.sign_in(USER, "not the password at all");
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("Wrong user name or password"),
        "{}",
        wrong.body
    );
    assert_eq!(client.get("/quarantine").status, 303, "still signed out");

    let right = client.sign_in(USER, PASSWORD);
    assert_eq!(right.status, 303, "{right:?}");
    assert_ne!(
        client.cookies.get("sg_session"),
        before.as_ref(),
        "a new session at sign-in"
    );
    let cookie = right.set_cookies()[0].to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let list = client.get("/quarantine");
    assert_eq!(list.status, 200);
    assert!(list.body.contains(USER), "{}", list.body);
    // The old session token no longer signs anyone in.
    let mut stale = console.client();
    stale.cookies.insert("sg_session".into(), before.unwrap());
    assert_eq!(stale.get("/quarantine").status, 303);

    // Sign-out ends the session.
    let csrf = list.csrf();
    let out = client.post("/sign-out", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(client.get("/quarantine").status, 303);

    let audit = console.audit();
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["sign-in-failed", "sign-in", "sign-out"],
        "{audit:?}"
    );
    assert!(audit
        .iter()
        .all(|e| e["user"] == USER && e["client"] == "127.0.0.1"));
    console.server.wait_log("console: sign-in", 1);

    // English and French: Accept-Language, then the switch (remembered in a cookie).
    let mut french = console.signed_in();
    french
        .headers
        .push(("Accept-Language".into(), "fr-CH, fr;q=0.9, en;q=0.5".into()));
    assert!(french.get("/quarantine").body.contains("Quarantaine"));
    let switched = french.get("/quarantine?lang=en");
    assert!(switched.body.contains(">Quarantine<"), "{}", switched.body);
    assert!(french.get("/spool").body.contains("Nothing waits"));
}

#[test]
fn failed_sign_ins_are_limited_per_user_and_per_address() {
    let console = Console::start(None);
    console.passwd("asmith", "another long password");
    let mut attacker = console.client();
    for _ in 0..5 {
        assert_eq!(attacker.sign_in(USER, "guess guess guess").status, 401);
    }
    // The sixth attempt is refused even with the right password, from this address…
    let refused = attacker.sign_in(USER, PASSWORD);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(refused.body.contains("Too many failed sign-ins"));
    // …and for this user from anywhere,
    let mut elsewhere = console.client_from([127, 0, 0, 2]);
    assert_eq!(elsewhere.sign_in(USER, PASSWORD).status, 429);
    // and for anyone from this address.
    assert_eq!(
        attacker.sign_in("asmith", "another long password").status,
        429
    );
    // Another user from another address is not affected.
    let mut colleague = console.client_from([127, 0, 0, 3]);
    assert_eq!(
        colleague.sign_in("asmith", "another long password").status,
        303
    );
    let refusals = console
        .audit()
        .iter()
        .filter(|e| e["action"] == "sign-in-refused")
        .count();
    assert_eq!(refusals, 3);
}

#[test]
fn every_post_needs_the_session_csrf_token() {
    let console = Console::start(None);
    let id = keep(
        &console,
        "mallory@else.example",
        "support+acme@vendor.example",
        "Hello",
        &[],
        "Hi.\n",
    );
    let mut client = console.signed_in();
    let page = client.get(&format!("/message/{id}"));
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    for path in [
        "/delete",
        "/release",
        "/confirm",
        "/approvals/confirm",
        "/approvals/approve",
        "/approvals/decline",
        "/spool/flush",
        "/sign-out",
    ] {
        let missing = client.post(path, &[("id", &id), ("action", "delete")]);
        assert_eq!(missing.status, 403, "{path} without a token: {missing:?}");
        let wrong = client.post(
            path,
            &[("csrf", &"0".repeat(64)), ("id", &id), ("action", "delete")],
        );
        assert_eq!(wrong.status, 403, "{path} with a wrong token");
    }
    // Another session's token does not do either.
    let other = console.signed_in().get("/quarantine").csrf();
    assert_ne!(other, csrf);
    assert_eq!(
        client
            .post("/delete", &[("csrf", &other), ("id", &id)])
            .status,
        403
    );
    // A sign-in form without the token is refused too.
    let mut anonymous = console.client();
    let answer = anonymous.request(
        "POST",
        "/sign-in",
        Some(form_body(&[("username", USER), ("password", PASSWORD)])),
    );
    assert_eq!(answer.status, 403);
    assert!(
        console.server.var("quarantine").join(&id).is_dir(),
        "nothing was deleted"
    );
    assert!(console.audit().iter().all(|e| e["action"] != "delete"));
    // With the token it works.
    assert_eq!(
        client
            .post("/delete", &[("csrf", &csrf), ("id", &id)])
            .status,
        200
    );
    assert!(!console.server.var("quarantine").join(&id).exists());
}

#[test]
fn filters_search_and_pages_of_fifty() {
    let console = Console::start(None);
    let mut ids = Vec::new();
    for n in 0..52 {
        ids.push(keep(
            &console,
            "mallory@else.example",
            "support+acme@vendor.example",
            &format!("Invoice number {n}"),
            &[],
            "Hi.\n",
        ));
    }
    let group = keep(
        &console,
        "team@acme.example",
        "support+acme@vendor.example",
        "From the team",
        &[],
        "Hi.\n",
    );
    let globex = keep(
        &console,
        "eve@elsewhere.example",
        "support+globex@vendor.example",
        "Globex question",
        &[],
        "Hi.\n",
    );
    let mut client = console.signed_in();

    let first = client.get("/quarantine");
    assert!(first.body.contains("54 messages match"), "{}", first.body);
    let rows = |body: &str| body.matches("name=\"id\" value=\"").count();
    assert_eq!(rows(&first.body), 50);
    assert!(first.body.contains(&globex), "newest first");
    assert!(
        !first.body.contains(&format!("value=\"{}\"", ids[0])),
        "oldest on page 2"
    );
    let second = client.get("/quarantine?page=2");
    assert_eq!(rows(&second.body), 4);
    assert!(second.body.contains(&ids[0]) && second.body.contains(&ids[1]));
    // Every id appears on exactly one page.
    for id in ids.iter().chain([&group, &globex]) {
        let on = [&first.body, &second.body]
            .iter()
            .filter(|b| b.contains(&format!("value=\"{id}\"")))
            .count();
        assert_eq!(on, 1, "{id}");
    }
    // The chart counts per reason over 14 days.
    assert!(first.body.contains("<svg"), "{}", first.body);
    assert!(first.body.contains(">53<"), "not-registered: 52 + globex");

    let reason = client.get("/quarantine?reason=group-address");
    assert!(reason.body.contains("1 messages match"), "{}", reason.body);
    assert!(reason.body.contains(&group));
    let account = client.get("/quarantine?account=globex");
    assert!(account.body.contains("1 messages match") && account.body.contains(&globex));
    let sender = client.get("/quarantine?sender=TEAM%40acme");
    assert!(sender.body.contains("1 messages match") && sender.body.contains(&group));
    let search = client.get("/quarantine?q=invoice+number+5");
    // 5 and 50, 51.
    assert!(search.body.contains("3 messages match"), "{}", search.body);
    let today = client.get("/quarantine?from=2000-01-01&to=2999-12-31");
    assert!(today.body.contains("54 messages match"));
    let past = client.get("/quarantine?to=2000-01-01");
    assert!(past.body.contains("0 messages match") && past.body.contains("No message matches"));
    // Paging keeps the filters.
    let filtered = client.get("/quarantine?reason=not-registered");
    assert!(
        filtered
            .body
            .contains("href=\"/quarantine?reason=not-registered&amp;page=2\""),
        "{}",
        filtered.body
    );
}

#[test]
fn release_and_delete_with_confirmation_through_the_cli_code_and_audited() {
    let console = Console::start(None);
    let a = keep(
        &console,
        "mallory@else.example",
        "support+acme@vendor.example",
        "Release me",
        &[],
        "Hi.\n",
    );
    let b = keep(
        &console,
        "team@acme.example",
        "support+acme@vendor.example",
        "Delete me",
        &[],
        "Hi.\n",
    );
    let c = keep(
        &console,
        "eve@elsewhere.example",
        "support+globex@vendor.example",
        "Delete me too",
        &[],
        "Hi.\n",
    );
    let mut client = console.signed_in();
    let page = client.get(&format!("/message/{a}"));
    assert!(page.body.contains(">Release</button>") && page.body.contains(">Delete</button>"));
    // The auto-reply that went out is shown with the message.
    assert!(
        page.body.contains("id=\"reply-subject\">Auto: Release me<"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    // The confirmation step acts on nothing.
    let confirm = client.post(
        "/confirm",
        &[("csrf", &csrf), ("id", &a), ("action", "release")],
    );
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("Release these messages"),
        "{}",
        confirm.body
    );
    assert!(
        console
            .server
            .var("tickets")
            .join("new")
            .read_dir()
            .map_or(0, |d| d.count())
            == 0
    );
    let done = client.post("/release", &[("csrf", &csrf), ("id", &a)]);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("queued as"), "{}", done.body);
    // Through the spool to the ticket queue, stamped with who released it.
    let ticket = gateway_support::poll(|| {
        gateway_support::maildir_new(&console.server.var("tickets"))
            .into_iter()
            .next()
    })
    .expect("the released message in the ticket queue");
    assert_eq!(
        gateway_support::header(&ticket, "X-Supportgate-Released-By"),
        USER
    );
    assert!(ticket.contains("Subject: Release me"));
    // A second release is refused, as on the command line.
    let again = client.post("/release", &[("csrf", &csrf), ("id", &a)]);
    assert_eq!(again.status, 409);
    assert!(again.body.contains("already released"), "{}", again.body);

    // A selection of two, deleted.
    let confirm = client.post(
        "/confirm",
        &[
            ("csrf", &csrf),
            ("id", &b),
            ("id", &c),
            ("action", "delete"),
        ],
    );
    assert!(
        confirm.body.contains(&b)
            && confirm.body.contains(&c)
            && confirm.body.contains("Delete these messages")
    );
    let deleted = client.post("/delete", &[("csrf", &csrf), ("id", &b), ("id", &c)]);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(!console.server.var("quarantine").join(&b).exists());
    assert!(!console.server.var("quarantine").join(&c).exists());
    let listed = client.get("/quarantine");
    assert!(listed.body.contains("1 messages match") && listed.body.contains("released by"));

    let audit = console.audit();
    let acted: Vec<(String, String, String)> = audit
        .iter()
        .filter(|e| e["action"] != "sign-in")
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap_or("").into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(acted[0], ("release".into(), a.clone(), "ok".into()));
    assert_eq!(acted[1].0, "release");
    assert!(acted[1].2.contains("already released"), "{acted:?}");
    assert_eq!(acted[2], ("delete".into(), b.clone(), "ok".into()));
    assert_eq!(acted[3], ("delete".into(), c.clone(), "ok".into()));
    assert!(audit
        .iter()
        .all(|e| e["user"] == USER && e["at"].as_u64().is_some()));
    console.server.wait_log("console: release", 2);
    console.server.wait_log("console: delete", 2);
    let page = client.get("/audit");
    assert!(
        page.body.contains(&b) && page.body.contains("delete"),
        "{}",
        page.body
    );
}

#[test]
fn hostile_messages_are_shown_as_escaped_text() {
    let console = Console::start(None);
    let subject = "<script>alert('subject')</script> \u{1b}[2J\u{1b}]52;c;aGk=\u{7} =?utf-8?q?split=0D=0AInjected:_header?=";
    let id = keep(
        &console,
        "mallory@else.example",
        "support+acme@vendor.example",
        subject,
        &[
            "X-Link: <a href=\"javascript:alert(1)\">x</a>",
            "Content-Disposition: inline",
        ],
        "<img src=\"http://remote.example/pixel.png\" onerror=\"alert(2)\">\n<a href=\"javascript:alert(3)\">click</a>\n\u{1b}[31mred\n",
    );
    let mut client = console.signed_in();
    for path in [
        "/quarantine".to_string(),
        format!("/message/{id}"),
        "/audit".into(),
    ] {
        let page = client.get(&path);
        assert_eq!(page.status, 200, "{path}");
        let body = &page.body;
        assert!(!body.contains("<script"), "{path}: {body}");
        assert!(!body.contains("<img"), "{path}");
        assert!(!body.contains("href=\"javascript:"), "{path}");
        assert!(!body.contains('\u{1b}'), "{path}: a raw ESC");
        assert!(!body.contains('\u{7}'), "{path}: a raw BEL");
    }
    let page = client.get(&format!("/message/{id}"));
    assert!(page.body.contains("&lt;script&gt;alert("), "{}", page.body);
    assert!(
        page.body.contains("\\x1b[2J"),
        "ESC shown as an escape: {}",
        page.body
    );
    assert!(
        page.body
            .contains("&lt;a href=&quot;javascript:alert(1)&quot;&gt;"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("&lt;img src=&quot;http:&#x2f;&#x2f;remote.example"),
        "{}",
        page.body
    );
    // The decoded CR LF of the encoded word is one line, not a new header.
    assert!(
        page.body.contains("split\\r\\nInjected: header"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<th>Injected</th>"), "{}", page.body);
}

#[test]
fn the_sso_header_signs_in_on_loopback() {
    let console = Console::start(Some("X-Remote-User"));
    let mut anonymous = console.client();
    assert_eq!(anonymous.get("/quarantine").status, 401);
    let mut client = console.client();
    client
        .headers
        .push(("X-Remote-User".into(), "sso.user".into()));
    let page = client.get("/quarantine");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("sso.user"));
    assert!(!page.body.contains("Sign out"), "the proxy signs out");
    let csrf = page.csrf();
    // CSRF still holds; the session follows the header's user.
    assert_eq!(client.post("/spool/flush", &[("id", "X")]).status, 403);
    assert_eq!(
        client
            .post("/spool/flush", &[("csrf", &csrf), ("id", "NOPE")])
            .status,
        404
    );
    client.headers[0].1 = "other.user".into();
    assert_eq!(
        client
            .post("/spool/flush", &[("csrf", &csrf), ("id", "NOPE")])
            .status,
        403,
        "a new user gets a new session"
    );
    let audit = console.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["user"], "sso.user");
    assert_eq!(audit[0]["action"], "flush");
}

/// The decoded text body of a message.
fn text_of(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// Chloé (a plain agent of acme) asks for an invoice: held for the owner or an admin (the
/// shipped `hold`). Returns its queue id, from the decision line.
fn hold_an_invoice_request(console: &Console, subject: &str) -> String {
    let before = console.server.decisions().len();
    let reply = console.server.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &message(
            "chloe@acme.example",
            subject,
            &[],
            "Could you send me the March invoice?\n",
        ),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let decision = gateway_support::poll(|| console.server.decisions().into_iter().nth(before))
        .expect("the decision line");
    assert_eq!(gateway_support::field_str(&decision, "outcome"), "held");
    gateway_support::field_str(&decision, "queue_id")
}

#[test]
fn pending_approvals_are_approved_and_declined_on_the_owners_behalf() {
    let console = Console::start(None);
    let approved = hold_an_invoice_request(&console, "Invoice for March");
    let declined = hold_an_invoice_request(&console, "Invoice <b>for</b> April");
    let mut client = console.signed_in();

    // The list: requester, account, category, Subject (escaped), age, who was asked.
    let page = client.get("/approvals");
    assert_eq!(page.status, 200);
    let body = &page.body;
    for expected in [
        approved.as_str(),
        declined.as_str(),
        "chloe@acme.example",
        ">acme<",
        ">billing<",
        ">Invoice for March<",
        "Invoice &lt;b&gt;for&lt;&#x2f;b&gt; April",
        "alice@acme.example, bruno@acme.example",
        ">0 min<",
    ] {
        assert!(body.contains(expected), "{expected} in:\n{body}");
    }
    assert!(!body.contains("<b>for"), "{body}");
    assert!(!body.contains("id=\"approvals-off\""), "hold is on: {body}");
    let csrf = page.csrf();

    // The confirmation step decides nothing.
    let confirm = client.post(
        "/approvals/confirm",
        &[("csrf", &csrf), ("id", &approved), ("action", "approve")],
    );
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(
        confirm.body.contains("Approve these requests") && confirm.body.contains(&approved),
        "{}",
        confirm.body
    );
    assert!(console.server.decisions().len() >= 2);
    assert!(gateway_support::maildir_new(&console.server.var("tickets")).is_empty());

    // Approved on the owner's behalf: the original, with the approval headers, in the ticket
    // queue, as `supportgate approval approve --by jdoe` does it.
    let done = client.post("/approvals/approve", &[("csrf", &csrf), ("id", &approved)]);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("approved: sent to the ticket queue"),
        "{}",
        done.body
    );
    let ticket = gateway_support::poll(|| {
        gateway_support::maildir_new(&console.server.var("tickets"))
            .into_iter()
            .next()
    })
    .expect("the approved request in the ticket queue");
    assert_eq!(
        gateway_support::header(&ticket, "X-Supportgate-Approved-By"),
        USER
    );
    assert_eq!(
        gateway_support::header(&ticket, "X-Supportgate-Approved-Role"),
        "operator"
    );
    assert_eq!(
        gateway_support::header(&ticket, "X-Supportgate-Queue-Id"),
        approved
    );
    assert_eq!(
        gateway_support::header(&ticket, "X-Supportgate-Verdict"),
        "accept"
    );
    assert_eq!(
        gateway_support::header(&ticket, "Subject"),
        "Invoice for March"
    );
    let granted = gateway_support::poll(|| {
        gateway_support::maildir_new(&console.server.var("outbox"))
            .into_iter()
            .find(|m| {
                gateway_support::header(m, "To").contains("chloe@acme.example")
                    && text_of(m).contains("approuvée")
            })
    });
    assert!(granted.is_some(), "the requester told of the approval");
    // The first decision wins: a second one is refused, and audited as such.
    let again = client.post("/approvals/approve", &[("csrf", &csrf), ("id", &approved)]);
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("no longer pending"), "{}", again.body);

    // Declined: into the quarantine, with who declined it.
    let done = client.post("/approvals/decline", &[("csrf", &csrf), ("id", &declined)]);
    assert_eq!(done.status, 200, "{}", done.body);
    let note = std::fs::read_to_string(
        console
            .server
            .var("quarantine")
            .join(&declined)
            .join("record.json"),
    )
    .expect("the declined request in the quarantine");
    assert!(note.contains("declined by jdoe (operator)"), "{note}");
    assert_eq!(
        gateway_support::maildir_new(&console.server.var("tickets")).len(),
        1,
        "a declined request is no ticket"
    );

    // Neither is pending any more; the audit log says who did what.
    let page = client.get("/approvals");
    assert!(
        !page.body.contains(&approved) && page.body.contains("No request waits"),
        "{}",
        page.body
    );
    let acted: Vec<(String, String, String)> = console
        .audit()
        .iter()
        .filter(|e| e["user"] == USER && e["action"] != "sign-in")
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap_or("").into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(acted.len(), 3, "{acted:?}");
    assert_eq!(acted[0], ("approve".into(), approved.clone(), "ok".into()));
    assert_eq!(acted[1].0, "approve");
    assert!(acted[1].2.contains("no longer pending"), "{acted:?}");
    assert_eq!(acted[2], ("decline".into(), declined.clone(), "ok".into()));
    console.server.wait_log("console: approve", 2);
    console.server.wait_log("console: decline", 1);
    console.server.wait_log("approval settled", 2);
}
