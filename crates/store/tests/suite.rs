//! One suite, every backend: SQLite in a temporary file, and PostgreSQL when
//! `ACCORD_TEST_POSTGRES` names a server (`scripts/test` starts one on loopback and sets it;
//! with `ACCORD_REQUIRE_POSTGRES=1` a missing server fails the suite instead of skipping it).

use std::sync::atomic::{AtomicU32, Ordering};

use accord_store::sql::Durability;
use accord_store::{
    Append, Chains, Conflict, Delivered, Enrolment, EventRow, Hash, Head, Identities, NewWork, Op,
    Outbox, ProcessRow, Processes, RowState, SqlStore, Store, StoreError, WorkKind, WorkQueue,
};

fn h(n: u8) -> Hash {
    [n; 32]
}

fn event(seq: u64) -> EventRow {
    EventRow {
        seq,
        hash: {
            let mut hash = h(1);
            hash[..8].copy_from_slice(&seq.to_be_bytes());
            hash
        },
        state: h(7),
        timestamp: 1_700_000_000_000 + seq,
        signer: "signer".into(),
        json: format!("{{\"n\":{seq}}}"),
    }
}

/// An append of `count` events to `chain` from `from`.
fn append(chain: &str, from: u64, count: u64) -> Append {
    let events: Vec<EventRow> = (from..from + count).map(event).collect();
    Append {
        head: Head {
            chain: chain.into(),
            length: from + count,
            tip: events.last().map_or(h(0), |e| e.hash),
            state: h(200),
            start: None,
            timestamp: events.last().map_or(0, |e| e.timestamp),
        },
        expected: from,
        events,
        parties: vec!["alice".into(), "bob".into()],
        processes: vec![ProcessRow {
            id: format!("{chain}-p"),
            chain: chain.into(),
            json: format!("{{\"length\":{}}}", from + count),
        }],
        work: vec![NewWork {
            kind: WorkKind::Http,
            chain: chain.into(),
            payload: format!("{{\"upto\":{}}}", from + count),
            due_at: 10,
        }],
        deliveries: Vec::new(),
        confirmed: Vec::new(),
    }
}

/// The conflict a write ran into, with the operation it says failed.
fn conflict(err: StoreError) -> (Op, Conflict) {
    match err {
        StoreError::Conflict { op, conflict } => (*op, conflict),
        other => panic!("not a conflict: {other}"),
    }
}

fn commit_of(chains: &[&str]) -> Op {
    Op::Commit {
        chains: chains.iter().map(|c| c.to_string()).collect(),
    }
}

async fn sqlite() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("node.db").display());
    (
        SqlStore::open(&url, Durability::Process).await.unwrap(),
        dir,
    )
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// A fresh database on the test server, or `None` when there is no server to use.
async fn postgres() -> Option<SqlStore> {
    let url = postgres_url().await?;
    Some(SqlStore::open(&url, Durability::Process).await.unwrap())
}

/// The URL of a fresh database on the test server, or `None` when there is no server to use.
async fn postgres_url() -> Option<String> {
    let Ok(url) = std::env::var("ACCORD_TEST_POSTGRES") else {
        if std::env::var("ACCORD_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("ACCORD_REQUIRE_POSTGRES=1 but ACCORD_TEST_POSTGRES is not set");
        }
        eprintln!("skipping PostgreSQL: ACCORD_TEST_POSTGRES is not set");
        return None;
    };
    let admin = SqlStore::open(&url, Durability::Process).await.unwrap();
    let name = format!(
        "accord_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    admin
        .execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    admin
        .execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await;
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// Declares a test that runs `$body` against SQLite and, when available, PostgreSQL.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = super::sqlite().await;
                    super::$name(&store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = super::postgres().await {
                        super::$name(&store).await;
                    }
                }
            )*
        }
    };
}

suite!(
    appends_and_reads_in_pages,
    conflicting_writers_write_nothing,
    a_failed_commit_leaves_no_trace,
    same_event_twice_is_a_conflict,
    parties_and_listing,
    processes_replace_and_list,
    scenarios_are_immutable,
    identities,
    work_queue,
    inconsistent_appends_are_refused,
    partial_copies_keep_their_start,
    group_commits,
    the_outbox,
    signatures_are_remembered_until_they_expire,
    names_the_store_does_not_know_are_corrupt,
);

/// The names the tables hold. Existing databases hold them: changing one needs a migration.
#[test]
fn stored_names_stay_as_they_are() {
    let names = |all: &[&str]| all.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        WorkKind::ALL
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>(),
        names(&["nop", "http", "event", "broken", "timer"])
    );
    assert_eq!(
        RowState::ALL
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>(),
        names(&["pending", "done", "dead"])
    );
    for kind in WorkKind::ALL {
        assert_eq!(kind.as_str().parse::<WorkKind>(), Ok(*kind));
    }
    for state in RowState::ALL {
        assert_eq!(state.as_str().parse::<RowState>(), Ok(*state));
    }
}

/// A kind or a state this build does not know, read from the database, is corrupt data named by
/// its column and value, not a row the node would guess at.
async fn names_the_store_does_not_know_are_corrupt(s: &SqlStore) {
    let mut a = append("c1", 0, 1);
    a.deliveries = vec!["peer-a".into()];
    s.commit(&[a], 1).await.unwrap();
    s.execute("UPDATE work SET kind = 'deliver'").await.unwrap();
    let err = s.work_of("c1").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { column: "work.kind", value, .. } if value == "\"deliver\""),
        "{err}"
    );
    assert_eq!(err.op(), Some(&Op::WorkOf { chain: "c1".into() }));
    assert_eq!(
        err.to_string(),
        "listing the work of chain c1: the stored data is corrupt: work.kind is \"deliver\", not a work kind (nop, http, event, broken, timer)"
    );
    // A claim takes only rows of the kind it names.
    assert!(
        s.claim_work(WorkKind::Http, 1000, 10, 2000)
            .await
            .unwrap()
            .is_empty()
    );
    s.execute("UPDATE work SET kind = 'http', state = 'leased'")
        .await
        .unwrap();
    let err = s.work_of("c1").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { column: "work.state", value, .. } if value == "\"leased\""),
        "{err}"
    );
    s.execute("UPDATE outbox SET state = 'Pending'")
        .await
        .unwrap();
    for err in [
        s.outbox(None, 0, 10).await.unwrap_err(),
        s.outbox_counts().await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::Corrupt { column: "outbox.state", value, .. } if value == "\"Pending\""),
            "{err}"
        );
    }
}

/// Peers' outbox rows: raised with the events, claimed and leased, finished, dead and replayed.
async fn the_outbox(s: &impl Store) {
    let mut a = append("c1", 0, 3);
    a.deliveries = vec!["peer-b".into(), "peer-c".into()];
    s.commit(&[a], 100).await.unwrap();
    let rows = s.outbox(None, 0, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|d| d.wanted == 3 && d.sent == 0 && d.state == RowState::Pending)
    );
    // Not due yet at 99; due at 100, leased until 5,000 and counted.
    assert!(
        s.claim_deliveries(99, 10, 5_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = s.claim_deliveries(100, 10, 5_000, &[]).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].attempts, 1);
    assert!(
        s.claim_deliveries(200, 10, 5_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let (b, c) = (&claimed[0], &claimed[1]);
    assert_eq!((b.peer.as_str(), c.peer.as_str()), ("peer-b", "peer-c"));

    // More events while b's delivery is under way: wanted rises, the lease stands.
    let mut more = append("c1", 3, 2);
    more.deliveries = vec!["peer-b".into()];
    s.commit(&[more], 300).await.unwrap();
    let leased = &s.outbox(None, 0, 10).await.unwrap()[0];
    assert_eq!((leased.wanted, leased.due_at), (5, 5_000));
    assert!(
        s.claim_deliveries(400, 10, 9_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    s.finish_delivery(b, &Delivered::Reached { length: 3 }, 400)
        .await
        .unwrap();
    let b_row = &s.outbox(None, 0, 10).await.unwrap()[0];
    assert_eq!((b_row.sent, b_row.wanted), (3, 5));
    assert_eq!(
        b_row.state,
        RowState::Pending,
        "wanted rose during the delivery"
    );
    assert_eq!(b_row.attempts, 0);
    let again = s.claim_deliveries(400, 10, 9_000, &[]).await.unwrap();
    assert_eq!(again.len(), 1);
    s.finish_delivery(&again[0], &Delivered::Reached { length: 5 }, 500)
        .await
        .unwrap();
    assert_eq!(
        s.outbox(Some(RowState::Done), 0, 10).await.unwrap().len(),
        1
    );

    // c: a failure, then given up; new events keep it dead; replay revives it.
    s.finish_delivery(
        c,
        &Delivered::Retry {
            error: "503".into(),
            retry_at: 2_000,
        },
        600,
    )
    .await
    .unwrap();
    assert!(
        s.claim_deliveries(1_999, 10, 9_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s.claim_deliveries(2_000, 10, 9_000, &[]).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 2);
    assert_eq!(retried[0].error.as_deref(), Some("503"));
    // A stale attempt (the row was claimed again since) records nothing.
    s.finish_delivery(
        c,
        &Delivered::Dead {
            error: "stale".into(),
        },
        2_050,
    )
    .await
    .unwrap();
    assert_eq!(
        s.outbox(Some(RowState::Dead), 0, 10).await.unwrap().len(),
        0
    );
    s.finish_delivery(
        &retried[0],
        &Delivered::Dead {
            error: "gone".into(),
        },
        2_100,
    )
    .await
    .unwrap();
    let mut later = append("c1", 5, 1);
    later.deliveries = vec!["peer-c".into()];
    s.commit(&[later], 2_200).await.unwrap();
    let dead = s.outbox(Some(RowState::Dead), 0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].wanted, dead[0].error.as_deref()),
        (6, Some("gone"))
    );
    assert!(
        s.claim_deliveries(1_000_000, 10, 2_000_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.outbox_counts().await.unwrap(),
        vec![
            ("peer-b".to_string(), RowState::Done, 1),
            ("peer-c".to_string(), RowState::Dead, 1)
        ]
    );
    assert!(
        !s.replay_delivery(b.id, 3_000).await.unwrap(),
        "b is not dead"
    );
    assert!(s.replay_delivery(c.id, 3_000).await.unwrap());
    let revived = s.claim_deliveries(3_000, 10, 9_000, &[]).await.unwrap();
    assert_eq!(revived.len(), 1);
    assert_eq!((revived[0].attempts, revived[0].sent), (1, 0));

    // A peer that says it is behind what it confirmed: sent follows it down.
    s.finish_delivery(&revived[0], &Delivered::Reached { length: 5 }, 3_100)
        .await
        .unwrap();
    assert_eq!(
        s.outbox(Some(RowState::Pending), 0, 10).await.unwrap()[0].sent,
        5
    );
    let behind = s.claim_deliveries(3_100, 10, 9_500, &[]).await.unwrap();
    s.finish_delivery(&behind[0], &Delivered::Reached { length: 2 }, 3_200)
        .await
        .unwrap();
    let row = s.outbox(Some(RowState::Pending), 0, 10).await.unwrap();
    assert_eq!((row[0].sent, row[0].due_at), (2, 3_200));

    // Claims skip busy peers; a row given back unattempted keeps its attempt count.
    let mut two = append("c2", 0, 1);
    two.deliveries = vec!["peer-x".into(), "peer-y".into()];
    s.commit(&[two], 10_000).await.unwrap();
    let busy = ["peer-x".to_string(), "peer-c".to_string()];
    let y = s.claim_deliveries(10_000, 10, 20_000, &busy).await.unwrap();
    assert_eq!(y.len(), 1);
    assert_eq!((y[0].peer.as_str(), y[0].attempts), ("peer-y", 1));
    s.release_delivery(&y[0], 10_100).await.unwrap();
    let all = s.claim_deliveries(10_100, 10, 20_000, &[]).await.unwrap();
    let peers: Vec<&str> = all.iter().map(|d| d.peer.as_str()).collect();
    assert_eq!(peers, vec!["peer-c", "peer-x", "peer-y"]);
    assert_eq!(all[2].attempts, 1, "the released claim was not counted");

    // At a start, every pending row is due (leases left by a run that died, backoffs).
    let leased = s.claim_deliveries(20_000, 10, 90_000, &[]).await.unwrap();
    assert!(!leased.is_empty());
    assert!(
        s.claim_deliveries(20_001, 10, 90_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let released = s.release_delivery_leases(20_002).await.unwrap();
    assert_eq!(released, leased.len() as u64);
    assert_eq!(
        s.claim_deliveries(20_002, 10, 90_000, &[])
            .await
            .unwrap()
            .len(),
        leased.len()
    );
    assert_eq!(
        s.outbox(Some(RowState::Done), 0, 10).await.unwrap().len(),
        1,
        "done rows stay done"
    );

    // Confirmed lengths: a peer taken to hold the chain gets a done row from there; events
    // after it are sent from there; a confirmation past `wanted` makes a pending row done.
    let mut heard = append("c2", 1, 2);
    heard.confirmed = vec![("peer-v".into(), 3), ("peer-w".into(), 3)];
    s.commit(&[heard], 30_000).await.unwrap();
    let row = |rows: Vec<accord_store::Delivery>, peer: &str| {
        rows.into_iter().find(|d| d.peer == peer).unwrap()
    };
    let v = row(s.outbox(None, 0, 100).await.unwrap(), "peer-v");
    assert_eq!((v.sent, v.wanted, v.state.as_str()), (3, 3, "done"));
    let mut own = append("c2", 3, 1);
    own.deliveries = vec!["peer-v".into(), "peer-w".into()];
    s.commit(&[own], 30_100).await.unwrap();
    let v = row(s.outbox(None, 0, 100).await.unwrap(), "peer-v");
    assert_eq!((v.sent, v.wanted, v.state.as_str()), (3, 4, "pending"));
    let mut more = append("c2", 4, 1);
    more.confirmed = vec![("peer-v".into(), 5)];
    s.commit(&[more], 30_200).await.unwrap();
    let rows = s.outbox(None, 0, 100).await.unwrap();
    let (v, w) = (row(rows.clone(), "peer-v"), row(rows, "peer-w"));
    assert_eq!((v.sent, v.wanted, v.state.as_str()), (5, 5, "done"));
    assert_eq!((w.sent, w.wanted, w.state.as_str()), (3, 4, "pending"));

    // A failed commit raises nothing.
    let mut bad = append("c1", 0, 1);
    bad.deliveries = vec!["peer-d".into()];
    assert!(s.commit(&[bad], 4_000).await.is_err());
    assert!(
        s.outbox(None, 0, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.peer != "peer-d")
    );
}

async fn appends_and_reads_in_pages(s: &impl Store) {
    assert_eq!(s.head("c1").await.unwrap(), None);
    s.commit(&[append("c1", 0, 3)], 1).await.unwrap();
    s.commit(&[append("c1", 3, 2500)], 2).await.unwrap();
    let head = s.head("c1").await.unwrap().unwrap();
    assert_eq!(head.length, 2503);
    assert_eq!(head.tip, event(2502).hash);
    assert_eq!(head.timestamp, event(2502).timestamp);
    let listed = s.chains_of("alice", None, 10).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&head));
    let first = s.events("c1", 0, 1000).await.unwrap();
    assert_eq!(first.len(), 1000);
    assert_eq!(first[0], event(0));
    assert_eq!(first[999], event(999));
    let last = s.events("c1", 2000, 1000).await.unwrap();
    assert_eq!(last.len(), 503);
    assert_eq!(last[502], event(2502));
    // A page is never larger than MAX_PAGE.
    assert_eq!(s.events("c1", 0, 50_000).await.unwrap().len(), 1000);
    assert_eq!(s.find_event("c1", &event(7).hash).await.unwrap(), Some(7));
    assert_eq!(s.find_event("c1", &h(255)).await.unwrap(), None);
    assert_eq!(s.find_event("c2", &event(7).hash).await.unwrap(), None);
}

async fn conflicting_writers_write_nothing(s: &impl Store) {
    s.commit(&[append("c1", 0, 2)], 1).await.unwrap();
    // A second writer that also saw length 0.
    let err = s.commit(&[append("c1", 0, 3)], 2).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        conflict(err),
        (
            commit_of(&["c1"]),
            Conflict::ChainExists { chain: "c1".into() }
        )
    );
    // One that saw a length the chain never had.
    let err = s.commit(&[append("c1", 5, 1)], 2).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "committing chain c1: chain c1 is no longer at length 5"
    );
    assert_eq!(
        conflict(err).1,
        Conflict::Moved {
            chain: "c1".into(),
            expected: 5
        }
    );
    assert_eq!(s.head("c1").await.unwrap().unwrap().length, 2);
    assert_eq!(s.events("c1", 0, 10).await.unwrap().len(), 2);
}

async fn a_failed_commit_leaves_no_trace(s: &impl Store) {
    s.commit(&[append("c1", 0, 1)], 1).await.unwrap();
    // Two chains in one commit; the second conflicts, so the first is not written either.
    let mut fresh = append("c2", 0, 2);
    fresh.parties = vec!["carol".into()];
    let err = s.commit(&[fresh, append("c1", 0, 1)], 2).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        conflict(err),
        (
            commit_of(&["c2", "c1"]),
            Conflict::ChainExists { chain: "c1".into() }
        )
    );
    assert_eq!(s.head("c2").await.unwrap(), None);
    assert!(s.events("c2", 0, 10).await.unwrap().is_empty());
    assert!(!s.is_party("c2", "carol").await.unwrap());
    assert_eq!(s.process("c2", "c2-p").await.unwrap(), None);
    assert!(s.work_of("c2").await.unwrap().is_empty());
    assert_eq!(s.work_of("c1").await.unwrap().len(), 1);
}

async fn same_event_twice_is_a_conflict(s: &impl Store) {
    s.commit(&[append("c1", 0, 2)], 1).await.unwrap();
    let mut again = append("c1", 2, 1);
    again.events[0].hash = event(0).hash;
    let err = s.commit(&[again], 2).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        conflict(err).1,
        Conflict::EventExists {
            chain: "c1".into(),
            seq: 2
        }
    );
    assert_eq!(s.head("c1").await.unwrap().unwrap().length, 2);
}

async fn parties_and_listing(s: &impl Store) {
    for c in ["c3", "c1", "c2"] {
        s.commit(&[append(c, 0, 1)], 1).await.unwrap();
    }
    let mut more = append("c2", 1, 1);
    more.parties = vec!["alice".into(), "dave".into()];
    s.commit(&[more], 2).await.unwrap();
    assert!(s.is_party("c1", "alice").await.unwrap());
    assert!(!s.is_party("c1", "dave").await.unwrap());
    assert!(s.is_party("c2", "dave").await.unwrap());
    let ids = |v: Vec<Head>| v.into_iter().map(|h| h.chain).collect::<Vec<_>>();
    assert_eq!(
        ids(s.chains_of("alice", None, 10).await.unwrap()),
        ["c1", "c2", "c3"]
    );
    assert_eq!(
        ids(s.chains_of("alice", None, 2).await.unwrap()),
        ["c1", "c2"]
    );
    assert_eq!(
        ids(s.chains_of("alice", Some("c2"), 2).await.unwrap()),
        ["c3"]
    );
    assert_eq!(ids(s.chains_of("dave", None, 10).await.unwrap()), ["c2"]);
    assert!(s.chains_of("mallory", None, 10).await.unwrap().is_empty());
}

async fn processes_replace_and_list(s: &impl Store) {
    s.commit(&[append("c1", 0, 1)], 1).await.unwrap();
    s.commit(&[append("c1", 1, 1)], 1).await.unwrap();
    s.commit(&[append("c2", 0, 1)], 1).await.unwrap();
    let p = s.process("c1", "c1-p").await.unwrap().unwrap();
    assert_eq!(p.json, "{\"length\":2}");
    assert_eq!(p.chain, "c1");
    assert_eq!(s.process_chains("c1-p").await.unwrap(), ["c1"]);
    assert!(s.process_chains("nope").await.unwrap().is_empty());
    assert_eq!(s.process("c2", "c1-p").await.unwrap(), None);
    assert_eq!(
        s.processes_on("c1").await.unwrap(),
        std::slice::from_ref(&p)
    );
    let of = s.processes_of("alice", None, 10).await.unwrap();
    assert_eq!(
        of.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["c1-p", "c2-p"]
    );
    assert_eq!(
        s.processes_of("alice", Some(("c1-p", "c1")), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.processes_of("mallory", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A process is addressed by its chain and its id: another chain's process with the same
    // id is kept beside it, and neither overwrites the other.
    let mut other = append("c3", 0, 1);
    other.processes[0].id = "c1-p".into();
    s.commit(&[other], 2).await.unwrap();
    assert_eq!(s.process("c1", "c1-p").await.unwrap().unwrap(), p);
    let theirs = s.process("c3", "c1-p").await.unwrap().unwrap();
    assert_eq!(
        (theirs.chain.as_str(), theirs.json.as_str()),
        ("c3", "{\"length\":1}")
    );
    assert_eq!(s.process_chains("c1-p").await.unwrap(), ["c1", "c3"]);
    // Listed once per chain, in (id, chain) order, and paged past a shared id.
    let of = s.processes_of("alice", None, 10).await.unwrap();
    let keys: Vec<(&str, &str)> = of
        .iter()
        .map(|p| (p.id.as_str(), p.chain.as_str()))
        .collect();
    assert_eq!(keys, [("c1-p", "c1"), ("c1-p", "c3"), ("c2-p", "c2")]);
    let rest = s
        .processes_of("alice", Some(("c1-p", "c1")), 10)
        .await
        .unwrap();
    let keys: Vec<(&str, &str)> = rest
        .iter()
        .map(|p| (p.id.as_str(), p.chain.as_str()))
        .collect();
    assert_eq!(keys, [("c1-p", "c3"), ("c2-p", "c2")]);
}

/// What the node's group commit hands over: many chains in one commit, new and moved.
async fn group_commits(s: &impl Store) {
    for c in ["g1", "g2", "g3"] {
        s.commit(&[append(c, 0, 2)], 1).await.unwrap();
    }
    // Three chains move and two start, in one transaction; two of them hold processes with
    // one id, each on its own chain.
    let mut claim = append("g5", 0, 1);
    claim.processes.push(ProcessRow {
        id: "g1-p".into(),
        chain: "g5".into(),
        json: "{\"twin\":true}".into(),
    });
    let group = [
        append("g1", 2, 1),
        append("g2", 2, 3),
        append("g3", 2, 1),
        append("g4", 0, 2),
        claim,
    ];
    s.commit(&group, 2).await.unwrap();
    for (c, length) in [("g1", 3), ("g2", 5), ("g3", 3), ("g4", 2), ("g5", 1)] {
        assert_eq!(s.head(c).await.unwrap().unwrap().length, length, "{c}");
        assert_eq!(
            s.events(c, 0, 10).await.unwrap().len() as u64,
            length,
            "{c}"
        );
        assert_eq!(
            s.process(c, &format!("{c}-p")).await.unwrap().unwrap().json,
            format!("{{\"length\":{length}}}")
        );
    }
    assert_eq!(
        s.process("g1", "g1-p").await.unwrap().unwrap().json,
        "{\"length\":3}"
    );
    assert_eq!(
        s.process("g5", "g1-p").await.unwrap().unwrap().json,
        "{\"twin\":true}"
    );
    // One chain that moved meanwhile spoils the group: nothing of it is written.
    let err = s
        .commit(&[append("g1", 3, 1), append("g2", 4, 1)], 3)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        conflict(err).1,
        Conflict::Moved {
            chain: "g2".into(),
            expected: 4
        }
    );
    assert_eq!(s.head("g1").await.unwrap().unwrap().length, 3);
    assert_eq!(s.events("g1", 0, 10).await.unwrap().len(), 3);
}

async fn scenarios_are_immutable(s: &impl Store) {
    assert!(s.put_scenario("s1", "{\"a\":1}", 1).await.unwrap());
    assert!(!s.put_scenario("s1", "{\"a\":1}", 2).await.unwrap());
    let err = s.put_scenario("s1", "{\"a\":2}", 3).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        conflict(err),
        (
            Op::PutScenario { id: "s1".into() },
            Conflict::ScenarioDiffers { id: "s1".into() }
        )
    );
    assert_eq!(
        s.scenario("s1").await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(s.scenario("s2").await.unwrap(), None);
}

async fn identities(s: &impl Store) {
    let keys = |k: &[&str]| k.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert!(
        s.put_identity(
            "i1",
            "{\"v\":1}",
            &keys(&["a", "b"]),
            Enrolment::Enrolled,
            1
        )
        .await
        .unwrap()
    );
    assert_eq!(s.identities_of_key("b").await.unwrap(), ["i1"]);
    assert_eq!(s.enrolled_identities_of_key("b").await.unwrap(), ["i1"]);
    assert_eq!(s.count_identities(Enrolment::Enrolled).await.unwrap(), 1);
    // A replacement replaces the keys too, and whether an administrator enrolled it.
    assert!(
        !s.put_identity(
            "i1",
            "{\"v\":2}",
            &keys(&["a", "c"]),
            Enrolment::SelfRegistered,
            2
        )
        .await
        .unwrap()
    );
    assert!(s.identities_of_key("b").await.unwrap().is_empty());
    assert_eq!(s.identities_of_key("c").await.unwrap(), ["i1"]);
    assert_eq!(
        s.identity("i1").await.unwrap().as_deref(),
        Some("{\"v\":2}")
    );
    assert!(s.enrolled_identities_of_key("c").await.unwrap().is_empty());
    assert_eq!(s.count_identities(Enrolment::Enrolled).await.unwrap(), 0);
    s.put_identity("i0", "{}", &keys(&["a"]), Enrolment::SelfRegistered, 3)
        .await
        .unwrap();
    assert_eq!(
        s.count_identities(Enrolment::SelfRegistered).await.unwrap(),
        2
    );
    assert_eq!(s.identities_of_key("a").await.unwrap(), ["i0", "i1"]);
    let all = s.identities(None, 10).await.unwrap();
    assert_eq!(
        all,
        [
            ("i0".to_string(), "{}".to_string()),
            ("i1".into(), "{\"v\":2}".into())
        ]
    );
    assert_eq!(s.identities(Some("i0"), 10).await.unwrap().len(), 1);
    assert!(s.delete_identity("i1").await.unwrap());
    assert!(!s.delete_identity("i1").await.unwrap());
    assert_eq!(s.identity("i1").await.unwrap(), None);
    // Removing one identity leaves another's keys as they are.
    assert_eq!(s.identities_of_key("a").await.unwrap(), ["i0"]);
    assert!(s.identities_of_key("c").await.unwrap().is_empty());
}

async fn signatures_are_remembered_until_they_expire(s: &impl Store) {
    assert!(s.remember_signature(&[1; 64], 1_000).await.unwrap());
    assert!(!s.remember_signature(&[1; 64], 1_000).await.unwrap());
    assert!(s.remember_signature(&[2; 64], 2_000).await.unwrap());
    let mut held = s.remembered_signatures(1_500).await.unwrap();
    held.sort();
    assert_eq!(held, [(vec![2; 64], 2_000)]);
    assert_eq!(s.forget_signatures(1_500).await.unwrap(), 1);
    assert_eq!(s.remembered_signatures(0).await.unwrap().len(), 1);
}

async fn work_queue(s: &impl Store) {
    let mut a = append("c1", 0, 1);
    a.work = (0..5)
        .map(|n| NewWork {
            kind: if n == 4 {
                WorkKind::Timer
            } else {
                WorkKind::Http
            },
            chain: "c1".into(),
            payload: n.to_string(),
            due_at: 100 + n,
        })
        .collect();
    s.commit(&[a], 1).await.unwrap();
    // Nothing is due before 100.
    assert!(
        s.claim_work(WorkKind::Http, 99, 10, 1000)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = s.claim_work(WorkKind::Http, 101, 10, 1000).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|w| w.payload.as_str())
            .collect::<Vec<_>>(),
        ["0", "1"]
    );
    assert!(claimed.iter().all(|w| w.attempts == 1 && w.due_at == 1000));
    // Claimed rows are leased until 1000; the rest are claimed in due order.
    let next = s.claim_work(WorkKind::Http, 500, 1, 1000).await.unwrap();
    assert_eq!(next[0].payload, "2");
    s.finish_work(claimed[0].id, RowState::Done).await.unwrap();
    s.finish_work(claimed[1].id, RowState::Dead).await.unwrap();
    // After the lease runs out, unfinished work comes back.
    let again = s.claim_work(WorkKind::Http, 1000, 10, 2000).await.unwrap();
    assert_eq!(
        again.iter().map(|w| w.payload.as_str()).collect::<Vec<_>>(),
        ["2", "3"]
    );
    assert_eq!(again[0].attempts, 2);
    let all = s.work_of("c1").await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.state.as_str()).collect::<Vec<_>>(),
        ["done", "dead", "pending", "pending", "pending"]
    );
    // A state is one of the three, and so is a kind: other names are refused where text
    // becomes one (a row that holds one is corrupt: `names_the_store_does_not_know_are_corrupt`).
    assert!("bogus".parse::<RowState>().is_err());
    assert!("deliver".parse::<WorkKind>().is_err());
}

async fn inconsistent_appends_are_refused(s: &impl Store) {
    let mut a = append("c1", 0, 2);
    a.events[1].seq = 5;
    assert!(matches!(
        s.commit(&[a], 1).await,
        Err(StoreError::Conflict {
            conflict: Conflict::Position {
                n: 1,
                seq: 5,
                expected: 1,
                ..
            },
            ..
        })
    ));
    let mut a = append("c1", 0, 2);
    a.head.length = 3;
    assert!(matches!(
        s.commit(&[a], 1).await,
        Err(StoreError::Conflict {
            conflict: Conflict::Count {
                events: 2,
                change: 3,
                ..
            },
            ..
        })
    ));
    let mut a = append("c1", 0, 2);
    a.processes[0].chain = "elsewhere".into();
    assert!(matches!(
        s.commit(&[a], 1).await,
        Err(StoreError::Conflict {
            conflict: Conflict::ProcessElsewhere { .. },
            ..
        })
    ));
    let mut a = append("c1", 2, 0);
    a.head.length = 1;
    assert!(matches!(
        s.commit(&[a], 1).await,
        Err(StoreError::Conflict {
            conflict: Conflict::Shrinks {
                length: 1,
                expected: 2,
                ..
            },
            ..
        })
    ));
    assert_eq!(s.head("c1").await.unwrap(), None);
}

async fn partial_copies_keep_their_start(s: &impl Store) {
    let mut a = append("c1", 0, 1);
    a.head.start = Some((h(90), h(91)));
    s.commit(&[a], 1).await.unwrap();
    s.commit(&[append("c1", 1, 1)], 1).await.unwrap();
    assert_eq!(
        s.head("c1").await.unwrap().unwrap().start,
        Some((h(90), h(91)))
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    let (store, dir) = sqlite().await;
    store.commit(&[append("c1", 0, 2)], 1).await.unwrap();
    store.close().await;
    let url = format!("sqlite:{}", dir.path().join("node.db").display());
    let again = SqlStore::open(&url, Durability::Power).await.unwrap();
    assert_eq!(again.head("c1").await.unwrap().unwrap().length, 2);
    again
        .execute("INSERT INTO accord_schema (version, applied_at) VALUES (99, 0)")
        .await
        .unwrap();
    again.close().await;
    let err = SqlStore::open(&url, Durability::Process).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NewerSchema { found: 99, .. })
            && err.to_string().contains("version 99"),
        "{err}"
    );
}

/// A database at schema version 2, with a chain, its process and an identity, brought to
/// version 3: processes keep their rows (now addressed by chain and id), each chain's tip
/// timestamp is filled in from its last event, and the identity's keys are indexed.
async fn migrating_to_version_3_keeps_what_was_there(url: &str) {
    let old = SqlStore::open_upto(url, Durability::Process, 2)
        .await
        .unwrap();
    // `B<n>` stands for a 32-byte blob of byte n, written as each backend writes one.
    let blob = |n: u8| match old.backend() {
        accord_store::sql::Backend::Sqlite => format!("X'{}'", format!("{n:02x}").repeat(32)),
        accord_store::sql::Backend::Postgres => {
            format!("decode('{}', 'hex')", format!("{n:02x}").repeat(32))
        }
    };
    for sql in [
        "INSERT INTO chains (id, length, tip, state, start_hash, start_state, updated_at) VALUES ('c1', 2, B2, B0, NULL, NULL, 0)",
        "INSERT INTO events (chain_id, seq, hash, state, timestamp, signer, json) VALUES ('c1', 0, B1, B0, 1700000000000, 'k', '{}')",
        "INSERT INTO events (chain_id, seq, hash, state, timestamp, signer, json) VALUES ('c1', 1, B2, B0, 1700000000999, 'k', '{}')",
        "INSERT INTO processes (id, chain_id, json) VALUES ('doc-1', 'c1', '{\"v\":1}')",
        "INSERT INTO identities (id, json, updated_at) VALUES ('alice', '{\"id\":\"alice\",\"signkeys\":{\"user\":\"kA\",\"system\":\"kN\"}}', 0)",
        "INSERT INTO identities (id, json, updated_at) VALUES ('bare', '{\"id\":\"bare\"}', 0)",
    ] {
        let sql = (0..3).fold(sql.to_string(), |sql, n| {
            sql.replace(&format!("B{n}"), &blob(n))
        });
        old.execute(&sql).await.unwrap();
    }
    old.close().await;
    let s = SqlStore::open(url, Durability::Process).await.unwrap();
    let head = s.head("c1").await.unwrap().unwrap();
    assert_eq!((head.length, head.timestamp), (2, 1_700_000_000_999));
    let p = s.process("c1", "doc-1").await.unwrap().unwrap();
    assert_eq!(p.json, "{\"v\":1}");
    assert_eq!(s.process_chains("doc-1").await.unwrap(), ["c1"]);
    assert_eq!(s.identities_of_key("kA").await.unwrap(), ["alice"]);
    assert_eq!(s.identities_of_key("kN").await.unwrap(), ["alice"]);
    assert!(s.identities_of_key("bare").await.unwrap().is_empty());
    // Identities registered before version 4 are not taken as enrolled by an administrator.
    assert!(s.enrolled_identities_of_key("kA").await.unwrap().is_empty());
    assert_eq!(
        s.count_identities(Enrolment::SelfRegistered).await.unwrap(),
        2
    );
    s.close().await;
}

#[tokio::test]
async fn migrating_to_version_3_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("node.db").display());
    migrating_to_version_3_keeps_what_was_there(&url).await;
}

#[tokio::test]
async fn migrating_to_version_3_on_postgres() {
    if let Some(url) = postgres_url().await {
        migrating_to_version_3_keeps_what_was_there(&url).await;
    }
}

#[tokio::test]
async fn unknown_urls_are_named() {
    let err = SqlStore::open("mysql://x", Durability::Process)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mysql://x"), "{err}");
}

/// SQLite commits never checkpoint (`wal_autocheckpoint = 0`); a task of the store's copies the
/// WAL into the database file while the store stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_run_beside_the_commits() {
    let (store, dir) = sqlite().await;
    let file = dir.path().join("node.db");
    let size = || std::fs::metadata(&file).unwrap().len();
    let before = size();
    // About 600 pages of events and projections, in 60 commits.
    for c in 0..60 {
        let mut a = append(&format!("c{c}"), 0, 10);
        for e in &mut a.events {
            e.json = format!("{{\"pad\":\"{}\"}}", "x".repeat(4000));
        }
        store.commit(&[a], 1).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() < before + 600 * 4096 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        size() >= before + 600 * 4096,
        "the database file is {} bytes, {before} before the commits: nothing was checkpointed",
        size()
    );
    assert_eq!(store.head("c59").await.unwrap().unwrap().length, 10);
}
