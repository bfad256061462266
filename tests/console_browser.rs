//! Black-box, in a real browser: Debian's headless chromium, driven over WebDriver by
//! chromedriver, against a real `supportgate serve` with the console on a loopback port —
//! sign in, filter, open a message, release it (with the confirmation) and find it in the
//! ticket queue, delete another, approve a held request on the owner's behalf (with the
//! confirmation) and find it in the ticket queue, read the audit log; a hostile Subject runs
//! no script.
//! With SUPPORTGATE_SCREENSHOT=PATH the quarantine page is saved there as a PNG (the README's
//! picture: docs/console-quarantine.png).

mod console_support;
mod gateway_support;
mod ops_support;

use console_support::webdriver::Browser;
use console_support::{Console, PASSWORD, USER};
use gateway_support::message;

fn keep(console: &Console, from: &str, rcpt: &str, subject: &str) -> String {
    let reply = console
        .server
        .send(from, &[rcpt], &message(from, subject, &[], "Hello.\n"));
    assert!(reply.starts_with("250 "), "{reply}");
    reply.split_whitespace().last().unwrap().to_string()
}

#[test]
fn support_staff_release_and_delete_in_a_browser() {
    let console = Console::start(None);
    let hostile =
        "<script>window.pwned=1;alert(1)</script><img src=x onerror=\"window.pwned=2;alert(2)\">";
    let release = keep(
        &console,
        "mallory@else.example",
        "support+acme@vendor.example",
        "Please open a ticket",
    );
    let delete = keep(
        &console,
        "team@acme.example",
        "support+acme@vendor.example",
        "From the team list",
    );
    let attack = keep(
        &console,
        "eve@elsewhere.example",
        "support+globex@vendor.example",
        hostile,
    );
    // Chloé, a plain agent, asks for an invoice: held for the owner or an admin.
    let before = console.server.decisions().len();
    let held = console.server.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &message("chloe@acme.example", "Invoice for March", &[], "Hello.\n"),
    );
    assert!(held.starts_with("250 "), "{held}");
    let decision = gateway_support::poll(|| console.server.decisions().into_iter().nth(before))
        .expect("the decision line");
    assert_eq!(gateway_support::field_str(&decision, "outcome"), "held");
    let held = gateway_support::field_str(&decision, "queue_id");
    let base = format!("http://127.0.0.1:{}", console.port);
    let browser = Browser::start();

    browser.open(&format!("{base}/quarantine"));
    browser.wait_for_url_end("/sign-in");
    browser.type_into("input[name=username]", USER);
    browser.type_into("input[name=password]", PASSWORD);
    browser.click("form.sign-in button[type=submit]");
    browser.wait_for_url_end("/quarantine");
    assert_eq!(browser.text("#user"), USER);
    if let Some(path) = std::env::var_os("SUPPORTGATE_SCREENSHOT") {
        std::fs::write(path, browser.screenshot_png()).unwrap();
    }

    // Filter by account: the two acme messages, not the globex one.
    browser.type_into("input[name=account]", "acme");
    browser.click("form.filters button[type=submit]");
    browser.wait_for_url("account=acme");
    let table = browser.text("#quarantine");
    assert!(
        table.contains(&release) && table.contains(&delete),
        "{table}"
    );
    assert!(!table.contains(&attack), "{table}");

    // Open one, Release, confirm.
    browser.click(&format!("a[href='/message/{release}']"));
    assert_eq!(browser.text("#queue-id"), release);
    browser.click("button#release");
    assert!(browser.text("#confirm").contains(&release));
    browser.click("#confirm-button");
    assert!(
        browser.text("#results").contains("queued as"),
        "{}",
        browser.source()
    );
    let ticket = gateway_support::poll(|| {
        gateway_support::maildir_new(&console.server.var("tickets"))
            .into_iter()
            .next()
    })
    .expect("the released message reaches the ticket queue");
    assert!(ticket.contains("Subject: Please open a ticket"), "{ticket}");
    assert_eq!(
        gateway_support::header(&ticket, "X-Supportgate-Released-By"),
        USER
    );

    // Delete another from its page.
    browser.open(&format!("{base}/message/{delete}"));
    browser.click("button#delete");
    browser.click("#confirm-button");
    assert!(browser.text("#results").contains("deleted"));
    assert!(!console.server.var("quarantine").join(&delete).exists());

    // Approve the held request on the owner's behalf: tick it, Approve, confirm.
    browser.open(&format!("{base}/approvals"));
    let pending = browser.text("#approvals");
    assert!(
        pending.contains(&held) && pending.contains("chloe@acme.example"),
        "{pending}"
    );
    browser.click(&format!("input[name=id][value='{held}']"));
    browser.click("button#approve");
    assert!(browser.text("#confirm").contains(&held));
    browser.click("#confirm-button");
    assert!(
        browser.text("#results").contains("approved"),
        "{}",
        browser.source()
    );
    let approved = gateway_support::poll(|| {
        gateway_support::maildir_new(&console.server.var("tickets"))
            .into_iter()
            .find(|m| gateway_support::header(m, "X-Supportgate-Queue-Id") == held)
    })
    .expect("the approved request reaches the ticket queue");
    assert_eq!(
        gateway_support::header(&approved, "X-Supportgate-Approved-By"),
        USER
    );

    // The audit log page shows all three.
    browser.open(&format!("{base}/audit"));
    let audit = browser.text("#audit");
    assert!(
        audit.contains(&release) && audit.contains(&delete) && audit.contains(&held),
        "{audit}"
    );

    // The hostile Subject: shown literally, no script ran, no alert opened.
    browser.open(&format!("{base}/message/{attack}"));
    assert_eq!(browser.text("#subject"), hostile);
    assert_eq!(browser.alert(), None);
    assert_eq!(browser.evaluate("return typeof window.pwned;"), "undefined");
    browser.open(&format!("{base}/quarantine"));
    assert!(browser.text("#quarantine").contains(hostile));
    assert_eq!(browser.alert(), None);
    assert_eq!(browser.evaluate("return typeof window.pwned;"), "undefined");
    assert_eq!(
        browser.evaluate("return document.querySelectorAll('main script, main img').length;"),
        0
    );
}
