//! Pending approvals (SPEC §11) in the `[state] backend = "postgres"` of a fleet (SPEC §12),
//! against a real PostgreSQL cluster (tests/postgres_support): the store's claim raced from two
//! pools has one winner; two `supportgate serve` processes share the held requests, so a
//! request held by gateway A and approved by its owner writing to gateway B gives exactly one
//! ticket, and the CLI of either gateway decides the other's requests; with the database
//! away, a request to hold gets a temporary failure, never a `250`.

mod gateway_support;
mod postgres_support;

use gateway_support::{field_str, header, message, poll, Gateway, Options};
use postgres_support::Postgres;
use std::sync::{Arc, Barrier};
use std::time::Duration;
use supportgate::config::{PostgresStateSettings, StateSettings};
use supportgate::store::approvals::{ApprovalStore, Pending, PendingState};
use supportgate::store::quarantine::{DecisionRecord, QuarantineRecord};

const ACME: &str = "support+acme@vendor.example";

fn held_subject() -> String {
    "Invoice \u{e9}t\u{e9} \"quoted\" \\ back".into()
}

fn pending(id: &str, token: &str) -> Pending {
    Pending {
        id: id.into(),
        token: token.into(),
        account: "acme".into(),
        category: "billing".into(),
        requires: "owner".into(),
        requester: "chloe@acme.example".into(),
        notify_requester: Some("chloe@acme.example".into()),
        approvers: vec!["alice@acme.example".into(), "bruno@acme.example".into()],
        support_address: "support@vendor.example".into(),
        language: "fr".into(),
        subject: held_subject(),
        text_start: "Please send the invoice".into(),
        message_id: Some("<m1@acme.example>".into()),
        held_at: 1000,
        expires_at: 2000,
        record: QuarantineRecord {
            id: id.into(),
            received_at: 1000,
            peer: Some("127.0.0.1:4000".into()),
            helo: None,
            mail_from: "chloe@acme.example".into(),
            recipients: vec!["support@vendor.example".into()],
            from_header: Some("chloe@acme.example".into()),
            subject: Some("Invoice".into()),
            message_id: None,
            size: 3,
            decision: DecisionRecord {
                verdict: "refuse".into(),
                reason: "authorization-required".into(),
                account: Some("acme".into()),
                agent: Some("chloe@acme.example".into()),
                role: Some("agent".into()),
                action: "hold".into(),
                category: Some("billing".into()),
                reply: "none".into(),
            },
            note: "held for approval".into(),
            authentication: None,
            released: None,
            release_attempts: Vec::new(),
        },
        state: PendingState::Pending,
        settled: false,
        taken_over_at: None,
    }
}

/// Two gateways' worth of approval stores (two pools) on one database.
fn two_stores(
    postgres: &Postgres,
    runtime: &tokio::runtime::Runtime,
) -> [Arc<dyn ApprovalStore>; 2] {
    let settings = StateSettings::Postgres(PostgresStateSettings {
        url: postgres.url(),
        connections: 4,
        timeout: Duration::from_secs(5),
    });
    let unused = std::path::Path::new("never-created.redb");
    let open = || {
        runtime
            .block_on(supportgate::store::state::open_approvals(&settings, unused))
            .unwrap()
    };
    let stores = [open(), open()];
    assert!(!unused.exists(), "the postgres backend makes no file");
    stores
}

#[test]
fn a_held_request_claimed_from_two_gateways_at_once_is_decided_once() {
    let postgres = Postgres::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fleet = two_stores(&postgres, &runtime);
    const CLAIMERS: usize = 8;
    for round in 0..10 {
        let (id, token) = (format!("0000ROUND{round:02}"), format!("token{round}"));
        let held = pending(&id, &token);
        let bytes = format!("Subject: round {round}\r\n\r\n\0\u{ff} bytes as received\r\n");
        fleet[0].hold(&held, bytes.as_bytes()).unwrap();
        // The other gateway sees it whole.
        assert_eq!(fleet[1].by_token(&token).unwrap().as_ref(), Some(&held));
        assert_eq!(fleet[1].message(&id).unwrap(), Some(bytes.into_bytes()));
        // Eight approvers, four on each gateway, at the same instant: one wins.
        let start = Arc::new(Barrier::new(CLAIMERS));
        let claims: Vec<_> = (0..CLAIMERS)
            .map(|i| {
                let (store, start, id) =
                    (Arc::clone(&fleet[i % 2]), Arc::clone(&start), id.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let closing = PendingState::Approved {
                        by: format!("approver{i}@acme.example"),
                        role: "owner".into(),
                        at: 1500 + i as u64,
                    };
                    store.claim(&id, closing).unwrap()
                })
            })
            .collect();
        let winners: Vec<Pending> = claims
            .into_iter()
            .filter_map(|claim| claim.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:#?}");
        // Both gateways read the winner's decision; a late one changes nothing.
        for store in &fleet {
            assert_eq!(store.get(&id).unwrap().as_ref(), Some(&winners[0]));
        }
        assert!(fleet[1]
            .claim(&id, PendingState::Expired { at: 1999 })
            .unwrap()
            .is_none());
    }
    let all = fleet[1].list().unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");

    // Given back (its follow-up failed): pending again, with nothing of the decision left.
    let id = "0000ROUND00";
    fleet[0].unclaim(id).unwrap();
    assert_eq!(fleet[1].get(id).unwrap(), Some(pending(id, "token0")));
    let declined = PendingState::Declined {
        by: "bruno@acme.example".into(),
        role: "admin".into(),
        at: 3000,
    };
    let closed = fleet[1].claim(id, declined.clone()).unwrap().unwrap();
    assert_eq!(closed.state, declined);
    // Its decider gone before the follow-up (a crash): once stale, the expiry timers of both
    // gateways race to take it over; one does.
    assert!(
        fleet[0].take_over(id, 3000, 3100).unwrap().is_none(),
        "not stale yet"
    );
    let start = Arc::new(Barrier::new(CLAIMERS));
    let takers: Vec<_> = (0..CLAIMERS)
        .map(|i| {
            let (store, start) = (Arc::clone(&fleet[i % 2]), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                store.take_over(id, 3001, 3400).unwrap()
            })
        })
        .collect();
    let taken: Vec<Pending> = takers
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(taken.len(), 1, "{taken:#?}");
    assert_eq!(
        (taken[0].taken_over_at, &taken[0].state),
        (Some(3400), &declined)
    );
    assert!(
        fleet[1].take_over(id, 3300, 3500).unwrap().is_none(),
        "taken"
    );
    // Settled: the bytes are gone, the record stays (a late approver is told), and an
    // unclaim changes nothing any more.
    fleet[1].finish(id).unwrap();
    assert!(
        fleet[1].take_over(id, 9000, 9000).unwrap().is_none(),
        "settled"
    );
    assert_eq!(fleet[0].message(id).unwrap(), None);
    fleet[0].unclaim(id).unwrap();
    let settled = fleet[0].get(id).unwrap().unwrap();
    assert!(settled.settled && settled.state == declined, "{settled:#?}");
    assert!(settled.message_id.is_some() && settled.subject == held_subject());
    // Forgotten once old: only the settled ones closed before the bound.
    assert_eq!(fleet[0].prune(3000).unwrap(), 0);
    assert_eq!(fleet[0].prune(3001).unwrap(), 1);
    assert_eq!(fleet[1].by_token("token0").unwrap(), None);
    assert_eq!(fleet[1].list().unwrap().len(), 9);
}

/// One gateway of the fleet: its own directory file, spool and outbox; `[state]` shared.
fn fleet_member(postgres: &Postgres) -> Gateway {
    let url = postgres.url();
    Gateway::start_edited(Options::default(), move |config| {
        let state = config
            .entry("state")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        state.insert("backend".into(), "postgres".into());
        state.insert("url".into(), url.into());
    })
}

/// Chloé (a plain agent) asks `gateway` for an invoice: held. Returns its queue id and the
/// approve address the owner was sent.
fn hold_an_invoice_request(gateway: &Gateway, subject: &str) -> (String, String) {
    let before = gateway.outbox().len();
    let request = message("chloe@acme.example", subject, &[], "The invoice, please.\n");
    let reply = gateway.send("chloe@acme.example", &[ACME], &request);
    assert!(reply.starts_with("250 "), "{reply}");
    let decision = gateway
        .decisions()
        .into_iter()
        .rev()
        .find(|d| field_str(d, "reason") == "authorization-required")
        .expect("decision line");
    assert_eq!(field_str(&decision, "outcome"), "held", "{decision}");
    let approve = poll(|| {
        gateway.outbox()[before..]
            .iter()
            .map(|m| header(m, "Reply-To"))
            .find(|r| r.starts_with("support+approve-"))
    })
    .unwrap_or_else(|| panic!("an approval request:\n{}", gateway.log()));
    (field_str(&decision, "queue_id"), approve)
}

fn answer(from: &str) -> Vec<u8> {
    message(from, "Re: Votre accord est demandé", &[], "OK pour moi.\n")
}

fn approval_reasons(gateway: &Gateway) -> Vec<String> {
    gateway
        .decisions()
        .iter()
        .filter(|d| field_str(d, "verdict") == "approval")
        .map(|d| field_str(d, "reason"))
        .collect()
}

fn stdout(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_request_held_on_one_gateway_is_approved_through_the_other_once() {
    let postgres = Postgres::start();
    let fleet = [fleet_member(&postgres), fleet_member(&postgres)];
    let (queue_id, approve) = hold_an_invoice_request(&fleet[0], "Invoice for March");
    // Gateway B's CLI lists what gateway A holds.
    let listed = fleet[1].cli(&["approval", "list"]);
    assert!(
        listed.status.success() && stdout(&listed).contains(&queue_id),
        "{}",
        stdout(&listed)
    );

    // The owner answers through B, the admin through A right after: B releases it, A's
    // answer is too late.
    let reply = fleet[1].send(
        "alice@acme.example",
        &[&approve],
        &answer("alice@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let tickets = poll(|| Some(fleet[1].tickets()).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| panic!("the approved request in B's tickets:\n{}", fleet[1].log()));
    let reply = fleet[0].send(
        "bruno@acme.example",
        &[&approve],
        &answer("bruno@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let late = poll(|| Some(approval_reasons(&fleet[0])).filter(|r| !r.is_empty()));
    assert_eq!(late.unwrap(), ["no-longer-pending"]);
    assert_eq!(approval_reasons(&fleet[1]), ["approved"]);
    assert!(fleet.iter().all(|g| g.settle()), "spools drained");
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        header(&tickets[0], "X-Supportgate-Approved-By"),
        "alice@acme.example"
    );
    assert_eq!(header(&tickets[0], "X-Supportgate-Queue-Id"), queue_id);
    assert!(fleet[0].tickets().is_empty(), "A released nothing");
    assert_eq!(fleet[1].tickets().len(), 1, "exactly one ticket");

    // Held on A, declined by an operator on B's command line: A's own CLI is too late.
    let (second, _) = hold_an_invoice_request(&fleet[0], "Invoice for April");
    let declined = fleet[1].cli(&["approval", "decline", &second, "--by", "jdoe"]);
    assert!(declined.status.success(), "{}", stdout(&declined));
    let again = fleet[0].cli(&["approval", "approve", &second, "--by", "jdoe"]);
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("no longer pending"),
        "{}",
        stdout(&again)
    );
    let kept = poll(|| {
        fleet[1]
            .quarantine()
            .into_iter()
            .find(|(id, _, _)| *id == second)
    });
    assert!(kept.is_some(), "declined: in B's quarantine");
    let listed = fleet[0].cli(&["approval", "list", "--all", "--json"]);
    let states: Vec<String> = stdout(&listed)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            format!(
                "{} {}",
                v["id"].as_str().unwrap_or(""),
                v["state"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        states,
        [format!("{queue_id} approved"), format!("{second} declined")]
    );
    assert!(fleet[0].tickets().is_empty() && fleet[1].tickets().len() == 1);
}

#[test]
fn with_the_state_database_away_a_request_to_hold_is_deferred_not_lost() {
    let postgres = Postgres::start();
    let gateway = fleet_member(&postgres);
    let ready = poll(|| gateway.log().contains("supportgate ready").then_some(()));
    assert!(ready.is_some(), "{}", gateway.log());
    postgres.stop_server();
    let request = message(
        "chloe@acme.example",
        "Invoice",
        &[],
        "The invoice, please.\n",
    );
    let reply = gateway.send("chloe@acme.example", &[ACME], &request);
    // Never a 250 for a request the shared store did not keep: the client retries later.
    assert!(reply.starts_with("452 4.3.1"), "{reply}\n{}", gateway.log());
    assert!(gateway.tickets().is_empty());
    let listed = gateway.cli(&["approval", "list"]);
    assert_eq!(listed.status.code(), Some(2), "{}", stdout(&listed));
    assert!(
        stdout(&listed).contains("state database"),
        "{}",
        stdout(&listed)
    );
}
