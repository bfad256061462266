use super::*;
use crate::store::embedded::RedbApprovalStore;
use crate::store::quarantine::DecisionRecord;
use std::sync::Arc;

pub(crate) fn pending(id: &str, token: &str) -> Pending {
    Pending {
        id: id.into(),
        token: token.into(),
        account: "acme".into(),
        category: "billing".into(),
        requires: "admin".into(),
        requester: "chloe@acme.example".into(),
        notify_requester: Some("chloe@acme.example".into()),
        approvers: vec!["alice@acme.example".into()],
        support_address: "support@vendor.example".into(),
        language: "fr".into(),
        subject: "Invoice".into(),
        text_start: "Please send the invoice".into(),
        message_id: None,
        held_at: 1000,
        expires_at: 2000,
        record: QuarantineRecord {
            id: id.into(),
            received_at: 1000,
            peer: None,
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

fn approved(by: &str) -> PendingState {
    PendingState::Approved {
        by: by.into(),
        role: "owner".into(),
        at: 1500,
    }
}

#[test]
fn a_held_request_survives_reopening_and_is_found_by_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.redb");
    RedbApprovalStore::open(&path)
        .unwrap()
        .hold(&pending("A1", "tok1"), b"bytes")
        .unwrap();
    let store = RedbApprovalStore::open(&path).unwrap();
    assert_eq!(store.by_token("tok1").unwrap().unwrap().id, "A1");
    assert!(store.by_token("other").unwrap().is_none());
    assert_eq!(store.message("A1").unwrap().unwrap(), b"bytes");
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn an_interrupted_decision_is_taken_over_only_once_stale_and_one_taker_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbApprovalStore::open(&dir.path().join("a.redb")).unwrap();
    store.hold(&pending("A1", "tok1"), b"bytes").unwrap();
    assert!(
        store.take_over("A1", 9000, 9000).unwrap().is_none(),
        "pending"
    );
    store.claim("A1", approved("alice")).unwrap().unwrap();
    // Decided at 1500: its decider may still be at work until then.
    assert!(store.take_over("A1", 1500, 1600).unwrap().is_none());
    let taken = store.take_over("A1", 1501, 1800).unwrap().unwrap();
    assert_eq!(
        (taken.taken_over_at, taken.state),
        (Some(1800), approved("alice"))
    );
    assert!(
        store.take_over("A1", 1700, 1900).unwrap().is_none(),
        "taken"
    );
    assert!(
        store.take_over("A1", 1801, 2000).unwrap().is_some(),
        "stale"
    );
    store.finish("A1").unwrap();
    assert!(
        store.take_over("A1", 9000, 9000).unwrap().is_none(),
        "settled"
    );
    assert!(store.take_over("nope", 9000, 9000).unwrap().is_none());
}

#[test]
fn a_claim_is_won_once_and_finish_keeps_the_record_without_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbApprovalStore::open(&dir.path().join("a.redb")).unwrap();
    store.hold(&pending("A1", "tok1"), b"bytes").unwrap();
    let won = store.claim("A1", approved("alice")).unwrap().unwrap();
    assert_eq!(won.state, approved("alice"));
    assert!(store.claim("A1", approved("bruno")).unwrap().is_none());
    assert!(store.claim("nope", approved("bruno")).unwrap().is_none());
    store.unclaim("A1").unwrap();
    assert!(store.get("A1").unwrap().unwrap().state.is_pending());
    assert!(store.claim("A1", approved("bruno")).unwrap().is_some());
    store.finish("A1").unwrap();
    let closed = store.by_token("tok1").unwrap().unwrap();
    assert!(closed.settled);
    assert_eq!(closed.state, approved("bruno"));
    assert!(store.message("A1").unwrap().is_none());
    // A settled request is not re-opened, and is forgotten after the retention.
    store.unclaim("A1").unwrap();
    assert!(!store.get("A1").unwrap().unwrap().state.is_pending());
    assert_eq!(store.prune(1500).unwrap(), 0);
    assert_eq!(store.prune(1501).unwrap(), 1);
    assert!(store.by_token("tok1").unwrap().is_none());
}

/// Two approvers at once (threads of one process, as two sessions of the server): one wins.
#[test]
fn concurrent_claims_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbApprovalStore::open(&dir.path().join("a.redb")).unwrap());
    for round in 0..5 {
        let id = format!("R{round}");
        store
            .hold(&pending(&id, &format!("t{round}")), b"x")
            .unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let claims: Vec<_> = (0..8)
            .map(|i| {
                let (store, barrier, id) = (Arc::clone(&store), Arc::clone(&barrier), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.claim(&id, approved(&format!("a{i}"))).unwrap()
                })
            })
            .collect();
        let winners: Vec<Pending> = claims
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(store.get(&id).unwrap().unwrap().state, winners[0].state);
    }
}

/// Two processes (the server and `supportgate approval approve`) open the file in turn: a
/// second store on the same path waits for the first instead of failing.
#[test]
fn two_stores_on_one_file_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.redb");
    let one = Arc::new(RedbApprovalStore::open(&path).unwrap());
    let two = Arc::new(RedbApprovalStore::open(&path).unwrap());
    one.hold(&pending("A1", "tok1"), b"x").unwrap();
    let threads: Vec<_> = [one, two]
        .into_iter()
        .map(|store| {
            std::thread::spawn(move || {
                (0..5)
                    .filter(|i| {
                        store
                            .claim("A1", approved(&format!("{i}")))
                            .unwrap()
                            .is_some()
                    })
                    .count()
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 1);
}

#[test]
fn tokens_are_160_bit_lowercase_base32_and_differ() {
    let (a, b) = (new_token(), new_token());
    assert_eq!(a.len(), 32);
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
    assert_ne!(a, b);
    assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
}
