//! Attacks on the identity registry and on system actions (issue 14, items 5, 7 and 9), each
//! tried against nodes running in process on loopback, as an attacker would.

mod common;

use std::time::{Duration, Instant};

use accord_chain::Nonce;
use accord_node::client::{Client, ClientError};
use accord_node::{Running, events};
use common::*;
use serde_json::{Value, json};

/// A node whose administrator is `operator`.
async fn start_operated(dir: &std::path::Path) -> Running {
    start_with(dir, |c| accord_node::Config {
        admins: vec![key("operator")],
        ..c
    })
    .await
}

/// `name`'s own identity (`<name>-identity`, its key as `user`), registered by itself.
async fn register_self(node: &Running, name: &str) {
    client(node, name)
        .post(
            "/identities",
            identity(&format!("{name}-identity"), &[("user", &key(name))]).to_string(),
        )
        .await
        .unwrap_or_else(|e| panic!("registering {name}: {e}"));
}

/// Whether `name` may start a chain at the node: it posts a new chain of its own (one identity
/// event) and tells 200 from 403.
async fn may_start_a_chain(node: &Running, name: &str, tag: &str) -> bool {
    let me = user(name);
    let body = identity(&format!("{name}-{tag}"), &[("user", &key(name))]);
    let chain = events::new_chain(
        &me,
        b'T',
        &Nonce::from_text(&format!("{name} {tag}")),
        &[(&body, &me)],
        now_ms(),
    )
    .unwrap();
    match client(node, name)
        .post("/event-chains", chain.to_json())
        .await
    {
        Ok(_) => true,
        Err(e) if e.status() == Some(403) => false,
        Err(e) => panic!("{name} starting a chain: {e}"),
    }
}

fn status(result: &Result<Value, ClientError>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    }
}

// ---------------------------------------------------------------------------------------------
// Item 5: registrations no one else can strip

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_another_users_key_without_its_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register_self(&node, "victim").await;
    let (mallory, victim) = (key("mallory"), key("victim"));
    // Mallory names the victim's key beside its own, signing alone.
    let err = client(&node, "mallory")
        .post(
            "/identities",
            identity("shared", &[("user", &mallory), ("friend", &victim)]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:forbidden"));
    let detail = err.to_string();
    assert!(
        detail.contains(&format!("signkeys.friend ({victim})")) && !detail.contains(&mallory),
        "names the key that did not sign, and its role: {detail}"
    );
    let ClientError::Problem { body, .. } = &err else {
        unreachable!()
    };
    assert_eq!(
        body["unconsented"],
        json!([{"role": "friend", "key": victim}])
    );
    // Nothing was stored: the id is free, and reads as missing to Mallory.
    let missing = client(&node, "mallory").get("/identities/shared").await;
    assert_eq!(status(&missing), 404);
    // Nor may Mallory name the victim alone, nor replace the victim's identity.
    let err = client(&node, "mallory")
        .post(
            "/identities",
            identity("victim-too", &[("user", &victim)]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let err = client(&node, "mallory")
        .post(
            "/identities",
            identity("victim-identity", &[("user", &mallory)]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("registered already"), "{err}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_then_deleting_an_identity_naming_the_victim_leaves_the_victim_registered() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register_self(&node, "victim").await;
    assert!(may_start_a_chain(&node, "victim", "before").await);
    // The attack: an identity naming the victim's key, registered and deleted again. (It is
    // refused now; whatever the answers, the victim must stay registered.)
    let mallory = client(&node, "mallory");
    let _ = mallory
        .post(
            "/identities",
            identity(
                "strip",
                &[("user", &key("mallory")), ("friend", &key("victim"))],
            )
            .to_string(),
        )
        .await;
    let _ = mallory.send("DELETE", "/identities/strip", None).await;
    assert!(
        may_start_a_chain(&node, "victim", "after").await,
        "the victim's own identity is still registered"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cosigned_identity_naming_two_keys_is_taken_and_removing_it_strips_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register_self(&node, "bob").await;
    let (alice, bob) = (key("alice"), key("bob"));
    let team = identity("team", &[("user", &alice), ("deputy", &bob)]);
    // Alice alone may not name Bob; with Bob's signature on the same request she may.
    let alone = client(&node, "alice")
        .post("/identities", team.to_string())
        .await
        .unwrap_err();
    assert_eq!(alone.status(), Some(403), "{alone}");
    let together = client(&node, "alice")
        .with_cosigners(&[&user("bob")])
        .unwrap();
    let created = together
        .send(
            "POST",
            "/identities",
            Some(("application/json", team.to_string().into_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert!(may_start_a_chain(&node, "alice", "team").await);
    // Alice removes the team identity: her key leaves the registry, Bob's (named by his own
    // identity too) stays.
    let removed = client(&node, "alice")
        .send("DELETE", "/identities/team", None)
        .await
        .unwrap();
    assert_eq!(removed.status, 204);
    assert!(
        may_start_a_chain(&node, "bob", "after-team").await,
        "Bob's own identity still registers his key"
    );
    assert!(!may_start_a_chain(&node, "alice", "after-team").await);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_an_identity_takes_a_key_it_names_now_and_the_new_keys_consent() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register_self(&node, "alice").await;
    let (alice, bob, carol) = (key("alice"), key("bob"), key("carol"));
    // Bob may not take over Alice's identity, even naming only himself.
    let err = client(&node, "bob")
        .post(
            "/identities",
            identity("alice-identity", &[("user", &bob)]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // Alice may not add Bob without his signature …
    let err = client(&node, "alice")
        .post(
            "/identities",
            identity("alice-identity", &[("user", &alice), ("deputy", &bob)]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("signkeys.deputy"), "{err}");
    // … and may move her identity to a new key that signs with her (a key rotation).
    let replaced = client(&node, "alice")
        .with_cosigners(&[&user("carol")])
        .unwrap()
        .post(
            "/identities",
            identity("alice-identity", &[("user", &carol)]).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(replaced["signkeys"]["user"], carol.as_str());
    assert!(may_start_a_chain(&node, "carol", "rotated").await);
    assert!(
        !may_start_a_chain(&node, "alice", "rotated").await,
        "the replaced key is no longer registered"
    );
    // This node's key as the system key needs no signature of the node's.
    let with_system = identity(
        "carol-system",
        &[("user", &carol), ("system", &node.node_key)],
    );
    client(&node, "carol")
        .post("/identities", with_system.to_string())
        .await
        .unwrap();
    // Another node's key does.
    let other = identity(
        "carol-elsewhere",
        &[("user", &carol), ("system", &key("node-b"))],
    );
    let err = client(&node, "carol")
        .post("/identities", other.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("signkeys.system"), "{err}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_after_a_restart_is_the_same_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    for name in ["alice", "bob"] {
        register_self(&node, name).await;
    }
    client(&node, "alice")
        .with_cosigners(&[&user("bob")])
        .unwrap()
        .post(
            "/identities",
            identity("pair", &[("user", &key("alice")), ("deputy", &key("bob"))]).to_string(),
        )
        .await
        .unwrap();
    client(&node, "dave")
        .post(
            "/identities",
            identity("dave-identity", &[("user", &key("dave"))]).to_string(),
        )
        .await
        .unwrap();
    // Removals: one of two identities naming Alice and Bob, and Dave's only one.
    for (who, id) in [("bob", "pair"), ("dave", "dave-identity")] {
        let answer = client(&node, who)
            .send("DELETE", &format!("/identities/{id}"), None)
            .await
            .unwrap();
        assert_eq!(answer.status, 204);
    }
    let names = ["alice", "bob", "dave", "erin"];
    let mut before = Vec::new();
    for name in names {
        before.push(may_start_a_chain(&node, name, "before").await);
    }
    assert_eq!(before, [true, true, false, false]);
    node.stop().await;
    let node = start(dir.path()).await;
    let mut after = Vec::new();
    for name in names {
        after.push(may_start_a_chain(&node, name, "after").await);
    }
    assert_eq!(
        after, before,
        "the registry is the store's, before and after"
    );
    let alice = client(&node, "alice")
        .get("/identities/alice-identity")
        .await
        .unwrap();
    assert_eq!(alice["signkeys"]["user"], key("alice").as_str());
    node.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 9: quotas

/// An identity of `name`'s padded with a `note` so that its JSON is exactly `size` bytes.
fn identity_of_size(name: &str, id: &str, size: usize) -> String {
    let mut doc = identity(id, &[("user", &key(name))]);
    doc["note"] = Value::from("");
    let bare = doc.to_string().len();
    doc["note"] = Value::from("x".repeat(size - bare));
    let text = doc.to_string();
    assert_eq!(text.len(), size);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_over_16_kib_is_refused_and_one_of_16_kib_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let mallory = client(&node, "mallory");
    let err = mallory
        .post("/identities", identity_of_size("mallory", "big", 16_385))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:body-too-large"));
    assert!(
        err.to_string().contains("16385 bytes") && err.to_string().contains("at most 16384"),
        "{err}"
    );
    // Far over it (3.5 MB was stored before), and it is not stored.
    let err = mallory
        .post(
            "/identities",
            identity_of_size("mallory", "huge", 3_500_000),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    assert_eq!(status(&mallory.get("/identities/huge").await), 404);
    let taken = mallory
        .post("/identities", identity_of_size("mallory", "edge", 16_384))
        .await
        .unwrap();
    assert_eq!(taken["id"], "edge");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_named_by_at_most_8_identities_but_administrators_are_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_operated(dir.path()).await;
    let mallory = client(&node, "mallory");
    for n in 1..=8 {
        mallory
            .post(
                "/identities",
                identity(&format!("m{n}"), &[("user", &key("mallory"))]).to_string(),
            )
            .await
            .unwrap_or_else(|e| panic!("identity {n} of 8: {e}"));
    }
    let err = mallory
        .post(
            "/identities",
            identity("m9", &[("user", &key("mallory"))]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:quota-exceeded"));
    assert!(
        err.to_string().contains(&key("mallory")) && err.to_string().contains("at most 8"),
        "{err}"
    );
    // Replacing one of the eight is no ninth.
    mallory
        .post(
            "/identities",
            identity(
                "m8",
                &[("user", &key("mallory")), ("system", &node.node_key)],
            )
            .to_string(),
        )
        .await
        .unwrap();
    // This node's key as a system key is not counted (it would be named by every user's).
    // An administrator may register beyond the quota.
    client(&node, "operator")
        .post(
            "/identities",
            identity("m9", &[("user", &key("mallory"))]).to_string(),
        )
        .await
        .unwrap();
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_keys_an_identity_names_the_node_and_administrators_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_operated(dir.path()).await;
    register_self(&node, "alice").await;
    for reader in ["alice", "operator"] {
        let read = client(&node, reader)
            .get("/identities/alice-identity")
            .await
            .unwrap();
        assert_eq!(read["id"], "alice-identity", "{reader}");
    }
    // Anyone else: the same answer as for an identity that does not exist.
    let hidden = client(&node, "mallory")
        .get("/identities/alice-identity")
        .await
        .unwrap_err();
    let missing = client(&node, "mallory")
        .get("/identities/nobody-identity")
        .await
        .unwrap_err();
    let body = |e: &ClientError| {
        let ClientError::Problem { body, .. } = e else {
            panic!("{e}")
        };
        let mut b = body.clone();
        b["detail"] = Value::from(
            b["detail"]
                .as_str()
                .unwrap()
                .replace("alice-identity", "ID")
                .replace("nobody-identity", "ID"),
        );
        b
    };
    assert_eq!(hidden.status(), Some(404), "{hidden}");
    assert_eq!(body(&hidden), body(&missing));
    // Nor may anyone else remove it (answered as missing too).
    let answer = client(&node, "mallory")
        .send("DELETE", "/identities/alice-identity", None)
        .await
        .unwrap();
    assert_eq!(answer.status, 404);
    assert!(may_start_a_chain(&node, "alice", "still").await);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_and_removals_are_30_a_minute_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let mallory = client(&node, "mallory");
    let started = Instant::now();
    // Registrations and removals in turn, until one is refused (at most 60).
    let mut refused = None;
    for n in 0..60 {
        let id = format!("churn-{}", n / 2);
        let answer = if n % 2 == 0 {
            let body = identity(&id, &[("user", &key("mallory"))]).to_string();
            mallory
                .send(
                    "POST",
                    "/identities",
                    Some(("application/json", body.into_bytes())),
                )
                .await
        } else {
            mallory
                .send("DELETE", &format!("/identities/{id}"), None)
                .await
        }
        .unwrap();
        if answer.status == 429 {
            refused = Some((n, answer));
            break;
        }
        assert!(
            answer.status == 201 || answer.status == 204,
            "request {n}: {}",
            answer.status
        );
    }
    let Some((n, refused)) = refused else {
        panic!("60 registrations and removals in a row were all taken");
    };
    // 30 at once, and one more per two seconds since the first.
    let refill = (started.elapsed().as_secs_f64() / 2.0).ceil() as usize;
    assert!(
        (30..=30 + refill).contains(&n),
        "the first refusal was request {n} after {:?}",
        started.elapsed()
    );
    let problem = refused.json().unwrap();
    assert_eq!(problem["type"], "urn:accord:problem:rate-limited");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("identities.register_per_minute"),
        "{problem}"
    );
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=2).contains(&wait),
        "a token is back within two seconds: {wait}"
    );
    // Another key has its own bucket.
    register_self(&node, "alice").await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_self_registration_only_administrators_register() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        admins: vec![key("operator")],
        identities: accord_node::config::Identities {
            self_register: false,
            ..Default::default()
        },
        ..c
    })
    .await;
    let err = client(&node, "alice")
        .post(
            "/identities",
            identity("alice-identity", &[("user", &key("alice"))]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("self_register"), "{err}");
    client(&node, "operator")
        .post(
            "/identities",
            identity("alice-identity", &[("user", &key("alice"))]).to_string(),
        )
        .await
        .unwrap();
    assert!(may_start_a_chain(&node, "alice", "enrolled").await);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_hold_at_their_edges() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        identities: accord_node::config::Identities {
            max_bytes: 512,
            max_per_key: 2,
            register_per_minute: 4,
            ..Default::default()
        },
        ..c
    })
    .await;
    let mallory = client(&node, "mallory");
    let err = mallory
        .post("/identities", identity_of_size("mallory", "a", 513))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    assert!(err.to_string().contains("513 bytes") && err.to_string().contains("at most 512"));
    mallory
        .post("/identities", identity_of_size("mallory", "a", 512))
        .await
        .unwrap();
    mallory
        .post("/identities", identity_of_size("mallory", "b", 300))
        .await
        .unwrap();
    let err = mallory
        .post("/identities", identity_of_size("mallory", "c", 300))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("at most 2"), "{err}");
    // That was the fourth attempt this minute (the refused ones count); a fifth is refused.
    let err = mallory
        .post("/identities", identity_of_size("mallory", "a", 300))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429), "{err}");
    node.stop().await;
}

/// Keys cost nothing, so the per-key quotas alone do not bound what strangers store: the
/// registrations users make for themselves share one node-wide bucket and a ceiling, and an
/// administrator's are in neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registrations_are_bounded_on_the_whole_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        admins: vec![key("operator")],
        identities: accord_node::config::Identities {
            self_register_per_minute: 3,
            max_self_registered: 4,
            ..Default::default()
        },
        ..c
    })
    .await;
    for n in 0..3 {
        register_self(&node, &format!("fresh-{n}")).await;
    }
    // A fourth new key in the same minute: the node's bucket is empty.
    let err = client(&node, "fresh-3")
        .post(
            "/identities",
            identity("fresh-3-identity", &[("user", &key("fresh-3"))]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429), "{err}");
    assert!(
        err.to_string().contains("self_register_per_minute"),
        "{err}"
    );
    // Replacing one's own identity is no new one: not counted.
    client(&node, "fresh-0")
        .post(
            "/identities",
            identity("fresh-0-identity", &[("user", &key("fresh-0"))]).to_string(),
        )
        .await
        .unwrap();
    // The administrator enrols users past both bounds.
    for n in 0..3 {
        let name = format!("enrolled-{n}");
        client(&node, "operator")
            .post(
                "/identities",
                identity(&format!("{name}-identity"), &[("user", &key(&name))]).to_string(),
            )
            .await
            .unwrap();
    }
    node.stop().await;
    // Restarted (a fresh bucket), the ceiling holds: 3 self-registered, 1 more, then 422.
    let node = start_with(dir.path(), |c| accord_node::Config {
        identities: accord_node::config::Identities {
            self_register_per_minute: 3,
            max_self_registered: 4,
            ..Default::default()
        },
        ..c
    })
    .await;
    register_self(&node, "fresh-3").await;
    let err = client(&node, "fresh-4")
        .post(
            "/identities",
            identity("fresh-4-identity", &[("user", &key("fresh-4"))]).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(
        err.kind(),
        Some("urn:accord:problem:quota-exceeded"),
        "{err}"
    );
    assert!(err.to_string().contains("max_self_registered"), "{err}");
    node.stop().await;
}

/// An id that is an LTO address belongs to that address's key: no one, administrators
/// included, registers it naming other keys; its key does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_id_is_taken_only_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_operated(dir.path()).await;
    let erin = user("erin");
    let victim = erin.public_key();
    for (network, who) in [(b'T', "mallory"), (b'L', "mallory"), (b'T', "operator")] {
        let id = victim.address(network).to_string();
        let err = client(&node, who)
            .post(
                "/identities",
                identity(&id, &[("user", &key(who))]).to_string(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(422), "{who} took {id}: {err}");
        assert_eq!(err.kind(), Some("urn:accord:problem:address-id"), "{err}");
    }
    // Mallory's own address is hers; an id that only looks like an address (a bad checksum)
    // is an ordinary id.
    let own = user("mallory").public_key().address(b'T').to_string();
    client(&node, "mallory")
        .post(
            "/identities",
            identity(&own, &[("user", &key("mallory"))]).to_string(),
        )
        .await
        .unwrap();
    let mut typo = victim.address(b'T').to_string();
    let last = typo.pop().unwrap();
    typo.push(if last == '2' { '3' } else { '2' });
    assert!(typo.parse::<accord_crypto::Address>().is_err());
    client(&node, "mallory")
        .post(
            "/identities",
            identity(&typo, &[("user", &key("mallory"))]).to_string(),
        )
        .await
        .unwrap();
    // Erin registers her address.
    let id = victim.address(b'T').to_string();
    client(&node, "erin")
        .post(
            "/identities",
            identity(&id, &[("user", &key("erin"))]).to_string(),
        )
        .await
        .unwrap();
    node.stop().await;
}

/// The address of this node's own key is no one else's: a user may name the node's key as
/// `system` without its signature, but that does not make the node's address the user's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stranger_takes_the_address_of_the_nodes_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let node_key =
        accord_crypto::PublicKey::from_base58(accord_crypto::KeyType::Ed25519, &node.node_key)
            .unwrap();
    let id = node_key.address(b'T').to_string();
    let err = client(&node, "mallory")
        .post(
            "/identities",
            identity(
                &id,
                &[("user", &key("mallory")), ("system", &node.node_key)],
            )
            .to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:address-id"), "{err}");
    node.stop().await;
}

/// A user who replaces an identity an administrator enrolled makes it self-registered, so it
/// counts toward `max_self_registered` like a new one: at a full node it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_an_enrolled_identity_counts_toward_max_self_registered() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        admins: vec![key("operator")],
        identities: accord_node::config::Identities {
            max_self_registered: 1,
            ..Default::default()
        },
        ..c
    })
    .await;
    let bob = identity("bob-identity", &[("user", &key("bob"))]).to_string();
    client(&node, "operator")
        .post("/identities", bob.clone())
        .await
        .unwrap();
    register_self(&node, "alice").await;
    let err = client(&node, "bob")
        .post("/identities", bob.clone())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(
        err.kind(),
        Some("urn:accord:problem:quota-exceeded"),
        "{err}"
    );
    // Alice replacing her own self-registered identity adds none: taken.
    register_self(&node, "alice").await;
    // With room again, bob's replacement is taken.
    client(&node, "alice")
        .call("DELETE", "/identities/alice-identity", None)
        .await
        .unwrap();
    client(&node, "bob").post("/identities", bob).await.unwrap();
    node.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 7: a node acts only for its own users

/// Two nodes that list each other as peers; `operator` administers both.
async fn two_nodes(
    dirs: &[tempfile::TempDir; 2],
    change: impl Fn(accord_node::Config) -> accord_node::Config,
) -> Vec<Running> {
    peered(dirs, |c| {
        change(accord_node::Config {
            admins: vec![key("operator")],
            ..c
        })
    })
    .await
}

/// A process the buyer starts at node A whose `system` actor's identity names node B's key as
/// its system key and `system_user` as its user: the system calls `url`.
async fn process_with_system_at_b(
    a: &Running,
    b: &Running,
    url: &str,
    system_user: &str,
    tag: &str,
) -> (String, String) {
    let sid = format!("call-at-b-{tag}");
    let pid = format!("p-{sid}");
    let scenario = calling(&sid, "B calls a service", url, "buyer");
    let chain = start_process_with_system_at(a, b, scenario, &pid, system_user).await;
    (pid, chain)
}

/// The signers of a chain's events at a node, as its administrator reads them.
async fn signers(node: &Running, chain: &str) -> Vec<String> {
    let Ok(whole) = Client::new(&url(node), &user("operator"))
        .unwrap()
        .get(&format!("/event-chains/{chain}"))
        .await
    else {
        return Vec::new();
    };
    let parsed = accord_chain::Chain::from_json(whole.to_string().as_bytes()).unwrap();
    parsed
        .verify()
        .unwrap()
        .events()
        .iter()
        .map(|e| e.sign_key().to_base58())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_runs_no_system_action_for_an_identity_whose_user_is_not_registered_there() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let nodes = two_nodes(&dirs, |c| accord_node::Config {
        system: accord_node::config::System {
            allow_private: true,
            timeout_ms: 2000,
            ..Default::default()
        },
        ..c
    })
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (service, seen) = service().await;
    let mut buyer = identity("buyer-identity", &[("user", &key("buyer"))]);
    buyer["node"] = Value::from(a.node_key.clone());
    client(a, "buyer")
        .post("/identities", buyer.to_string())
        .await
        .unwrap();
    // B's own user, enrolled at B by its operator, asking B to run its system actions.
    client(b, "operator")
        .post(
            "/identities",
            identity(
                "b-user",
                &[("user", &key("b-user")), ("system", &b.node_key)],
            )
            .to_string(),
        )
        .await
        .unwrap();
    // The attack: organisation A's user names B's key as the system key of an identity whose
    // user is a stranger to B.
    let (attack, attack_chain) =
        process_with_system_at_b(a, b, &format!("{service}/attack"), "stranger", "attack").await;
    // The same, for B's registered user: B runs it.
    let (good, good_chain) =
        process_with_system_at_b(a, b, &format!("{service}/good"), "b-user", "good").await;
    let buyer = client(a, "buyer");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let p = buyer.get(&format!("/processes/{good}")).await.unwrap();
        if p["current"]["key"] == "finishing" {
            assert_eq!(p["previous"][0]["signkey"], b.node_key.as_str());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never answered for its own user: {p}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(signers(b, &good_chain).await.contains(&b.node_key));
    // Give a wrong answer to the attack time to show itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let requests = seen.lock().unwrap().clone();
    assert_eq!(
        requests,
        ["POST /good HTTP/1.1"],
        "B called the service for its user only"
    );
    let attack_signers = signers(b, &attack_chain).await;
    assert_eq!(
        attack_signers.len(),
        4,
        "B holds the chain: {attack_signers:?}"
    );
    assert!(
        !attack_signers.contains(&b.node_key),
        "B signed nothing on the attack's chain"
    );
    let p = buyer.get(&format!("/processes/{attack}")).await.unwrap();
    assert_eq!(p["current"]["key"], "initial");
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_any_runs_for_anyone_and_accept_none_for_no_one() {
    for (accept, runs) in [
        (accord_node::config::Accept::Any, true),
        (accord_node::config::Accept::None, false),
    ] {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let nodes = two_nodes(&dirs, |c| accord_node::Config {
            system: accord_node::config::System {
                allow_private: true,
                timeout_ms: 2000,
                accept,
                ..Default::default()
            },
            ..c
        })
        .await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (service, seen) = service().await;
        let mut buyer = identity("buyer-identity", &[("user", &key("buyer"))]);
        buyer["node"] = Value::from(a.node_key.clone());
        client(a, "buyer")
            .post("/identities", buyer.to_string())
            .await
            .unwrap();
        // A user B does not know; with `none`, B's own registered user fares no better.
        client(b, "b-user")
            .post(
                "/identities",
                identity("b-user", &[("user", &key("b-user"))]).to_string(),
            )
            .await
            .unwrap();
        let user = if runs { "stranger" } else { "b-user" };
        let (pid, _) =
            process_with_system_at_b(a, b, &format!("{service}/call"), user, "policy").await;
        let deadline = Instant::now() + Duration::from_secs(if runs { 15 } else { 2 });
        let answered = loop {
            let p = client(a, "buyer")
                .get(&format!("/processes/{pid}"))
                .await
                .unwrap();
            if p["current"]["key"] == "finishing" {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(answered, runs, "{accept:?}");
        assert_eq!(seen.lock().unwrap().len(), usize::from(runs), "{accept:?}");
        for node in nodes {
            node.stop().await;
        }
    }
}
