//! The pipeline when its database fails: a store that fails on a countdown
//! (`accord_store::testing::Failing`, around SQLite) under the one writer.
//!
//! A failed commit is answered to every submitter of its batch as the node's fault (500), leaves
//! nothing of the batch in the store, and the writer, which dropped those chains from memory,
//! reloads them from the store once it works again. A failed read is answered as the node's
//! fault and spoils nothing for the requests after it.

mod common;

use std::sync::Arc;

use accord_chain::{Draft, Nonce, VerifiedChain};
use accord_crypto::KeyPair;
use accord_node::clock::Clock;
use accord_node::events;
use accord_node::metrics::Metrics;
use accord_node::peers::Peers;
use accord_node::pipeline::{Origin, Outcome, Pipeline, Wakes};
use accord_node::problem::Problem;
use accord_store::sql::Durability;
use accord_store::testing::{self, Failing};
use accord_store::{Chains, Head, Op, Outbox, Processes, SqlStore, WorkQueue};
use serde_json::json;

use common::{calling, key, now_ms, user};

type Store = Failing<SqlStore>;

/// A writer over a store in a temporary directory, and the key it signs with.
struct Node {
    store: Arc<Store>,
    pipeline: Pipeline,
    key: Arc<KeyPair>,
    _dir: tempfile::TempDir,
}

async fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("node.db").display());
    let store = Arc::new(Failing::new(
        SqlStore::open(&url, Durability::Process).await.unwrap(),
    ));
    let key = Arc::new(user("the node"));
    Node {
        pipeline: writer(&store, &key),
        store,
        key,
        _dir: dir,
    }
}

/// A writer (the node's pipeline) over `store`, holding nothing in memory yet.
fn writer(store: &Arc<Store>, key: &Arc<KeyPair>) -> Pipeline {
    let (pipeline, _task) = Pipeline::start(
        store.clone(),
        key.clone(),
        Arc::new(Metrics::default()),
        Arc::new(Peers::new(&[], None)),
        Wakes {
            outbox: Arc::new(tokio::sync::Notify::new()),
            queued: Arc::new(tokio::sync::Notify::new()),
        },
        30_000,
        Clock::system(),
    );
    pipeline
}

/// A new chain starting a process of `calling` (`calling-<tag>`): its user's identity names a
/// peer node (so a commit raises an outbox row for it), its system actor's names this node's
/// key as its system key (so a commit queues the HTTP call as a work row).
fn new_chain(tag: &str, node: &KeyPair) -> VerifiedChain {
    let pid = format!("calling-{tag}");
    let bodies = [
        events::scenario(
            calling("calling", "Calling", "http://127.0.0.1:9/", "user"),
            "calling",
        ),
        events::identity_at("user-identity", &key("user"), &key("peer node")),
        events::identity(
            "system-identity",
            &key("operator"),
            Some(&node.public_key().to_base58()),
        ),
        events::process(
            &pid,
            "calling",
            &[
                ("user".into(), "user-identity".into()),
                ("system".into(), "system-identity".into()),
            ],
        ),
    ];
    let creator = user("user");
    let signed: Vec<_> = bodies.iter().map(|b| (b, &creator)).collect();
    events::new_chain(&creator, b'T', &Nonce::from_text(&pid), &signed, now_ms()).unwrap()
}

/// The system actor's answer to the call (signed by this node's key), on `head`.
fn answer(chain: &VerifiedChain, head: &Head, node: &KeyPair) -> VerifiedChain {
    let body = events::response("call", Some("ok"), json!({"status": 200}));
    events::next_event(
        chain.id(),
        head.tip,
        head.state,
        &body,
        node,
        now_ms().max(head.timestamp),
    )
    .unwrap()
    .verify()
    .unwrap()
}

/// `chain` with the system actor's answer appended: the whole chain again, and one event more.
fn longer(chain: &VerifiedChain, node: &KeyPair) -> VerifiedChain {
    let mut longer = chain.clone();
    let at = longer.events().last().map_or(0, |e| e.event().timestamp);
    let body = events::response("call", Some("ok"), json!({"status": 200}));
    longer
        .sign_and_append(Draft::json(&body), node, now_ms().max(at))
        .unwrap();
    longer
}

/// Submits a chain as a user of the node would, and gives the answer as the API gives it.
async fn submit(pipeline: &Pipeline, chain: VerifiedChain) -> Result<Outcome, Problem> {
    pipeline
        .submit(chain, key("user"), Origin::Local)
        .await
        .map_err(Problem::from)
}

/// The answer is the node's fault (500 `internal`), naming what failed.
fn failed(answer: Result<Outcome, Problem>, what: &str) {
    let problem = answer.expect_err("the store failed, so the submission must");
    assert_eq!(problem.status.as_u16(), 500, "{problem}");
    assert_eq!(problem.kind, "internal", "{problem}");
    assert!(
        problem.detail.contains(what) && problem.detail.contains("failed on purpose"),
        "{problem}"
    );
}

/// Everything the store holds of a chain: head, events, processes, work and outbox rows.
async fn held(store: &SqlStore, chain: &str) -> (Option<Head>, usize, usize, usize, Vec<u64>) {
    let outbox = store.outbox(None, 0, 1000).await.unwrap();
    (
        store.head(chain).await.unwrap(),
        store.events(chain, 0, 1000).await.unwrap().len(),
        store.processes_on(chain).await.unwrap().len(),
        store.work_of(chain).await.unwrap().len(),
        outbox
            .iter()
            .filter(|d| d.chain == chain)
            .map(|d| d.wanted)
            .collect(),
    )
}

/// A batch whose commit fails: every submitter hears the failure, nothing of the batch is
/// stored, and once the store works again the same submissions succeed, on the heads the store
/// holds (the writer dropped what it had placed in memory, and reloads it).
#[tokio::test]
async fn a_failed_commit_fails_its_whole_batch_and_leaves_nothing() {
    let n = node().await;
    let inner = n.store.inner();
    let a = new_chain("a", &n.key);
    let a_id = a.id().to_base58();
    assert_eq!(submit(&n.pipeline, a.clone()).await.unwrap().length, 4);
    let stored = held(inner, &a_id).await;
    // What a commit writes besides events: a projection, the call as work, the peer's row.
    assert_eq!(
        (stored.1, stored.2, stored.3, &stored.4[..]),
        (4, 1, 1, &[4][..])
    );
    let head = stored.0.clone().unwrap();

    // One batch: two new chains and an event on the one the store holds.
    let (b, c) = (new_chain("b", &n.key), new_chain("c", &n.key));
    let (b_id, c_id) = (b.id().to_base58(), c.id().to_base58());
    let more = answer(&a, &head, &n.key);
    n.store.fail(0, testing::commits);
    // On the test's one thread, all three are queued before the writer runs: one batch (and
    // the store's count of commits says so).
    let (to_a, to_b, to_c) = tokio::join!(
        submit(&n.pipeline, more.clone()),
        submit(&n.pipeline, b.clone()),
        submit(&n.pipeline, c.clone()),
    );
    assert_eq!(
        n.store.asked(testing::commits),
        (2, 1),
        "the three submissions were one commit, and it failed"
    );
    for answer in [to_a, to_b, to_c] {
        failed(answer, "committing chains");
    }
    assert_eq!(held(inner, &a_id).await, stored, "chain a is as it was");
    for id in [&b_id, &c_id] {
        assert_eq!(held(inner, id).await, (None, 0, 0, 0, vec![]), "{id}");
    }

    // The store works again: the same submissions are placed on what it holds.
    n.store.recover();
    let (to_a, to_b, to_c) = tokio::join!(
        submit(&n.pipeline, more),
        submit(&n.pipeline, b),
        submit(&n.pipeline, c),
    );
    let to_a = to_a.unwrap();
    assert_eq!(
        (to_a.length, to_a.added.len(), to_a.duplicates),
        (5, 1, 0),
        "{to_a:?}"
    );
    assert!(to_a.refused.is_empty(), "{to_a:?}");
    let now = inner.head(&a_id).await.unwrap().unwrap();
    assert_eq!(to_a.tip, accord_crypto::base58::encode(&now.tip));
    assert_eq!(held(inner, &a_id).await.4, [5]);
    for (outcome, id) in [(to_b, &b_id), (to_c, &c_id)] {
        assert_eq!(outcome.unwrap().length, 4, "{id}");
        assert_eq!(held(inner, id).await.1, 4, "{id}");
    }
}

/// A failed look-up of an event while placing a submission is the node's fault, not a fork;
/// the same submission succeeds once the store works.
#[tokio::test]
async fn a_failed_event_lookup_answers_an_error_and_spoils_nothing() {
    let n = node().await;
    let a = new_chain("a", &n.key);
    let a_id = a.id().to_base58();
    submit(&n.pipeline, a.clone()).await.unwrap();
    // The whole chain again with one event more: placing it looks its events up.
    let again = longer(&a, &n.key);
    n.store.fail(0, |op| matches!(op, Op::FindEvent { .. }));
    failed(
        submit(&n.pipeline, again.clone()).await,
        &format!("looking up an event on chain {a_id}"),
    );
    assert_eq!(
        n.store.inner().events(&a_id, 0, 100).await.unwrap().len(),
        4
    );
    n.store.recover();
    let outcome = submit(&n.pipeline, again).await.unwrap();
    assert_eq!(
        (outcome.length, outcome.duplicates, outcome.added.len()),
        (5, 4, 1),
        "{outcome:?}"
    );
}

/// A node holding a chain, and a writer that has not seen it yet (a restarted node's), which
/// must load it from the store to place an event on it; the store fails while it does, as
/// `after` and `watch` say. The submission is answered with the failure (`what`, given the
/// chain id), and once the store works the same submission is placed on the chain as stored.
async fn loading_fails(after: u64, watch: testing::Watch, what: fn(&str) -> String) {
    let n = node().await;
    let a = new_chain("a", &n.key);
    let a_id = a.id().to_base58();
    submit(&n.pipeline, a.clone()).await.unwrap();
    let head = n.store.inner().head(&a_id).await.unwrap().unwrap();
    let fresh = writer(&n.store, &n.key);
    let more = answer(&a, &head, &n.key);
    n.store.fail(after, watch);
    failed(submit(&fresh, more.clone()).await, &what(&a_id));
    n.store.recover();
    let outcome = submit(&fresh, more).await.unwrap();
    assert_eq!((outcome.length, outcome.added.len()), (5, 1), "{outcome:?}");
    assert!(outcome.refused.is_empty(), "{outcome:?}");
}

/// A writer that cannot read a chain's head does not take the chain for a new one, and the
/// next submission loads it.
#[tokio::test]
async fn a_failed_head_read_answers_an_error_and_spoils_nothing() {
    loading_fails(
        0,
        |op| matches!(op, Op::Head { .. }),
        |id| format!("reading the head of chain {id}"),
    )
    .await;
}

/// A writer whose reading of a chain's events fails part-way keeps nothing half-read: the
/// next submission loads the whole chain.
#[tokio::test]
async fn a_failed_event_page_answers_an_error_and_spoils_nothing() {
    // The first page (the chain's four events) is read; the read after it fails.
    loading_fails(
        1,
        |op| matches!(op, Op::Events { .. }),
        |id| format!("reading the events of chain {id} from position 4"),
    )
    .await;
}
