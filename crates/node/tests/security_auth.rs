//! Attacks on request signatures, against running nodes on loopback: requests signed long ago,
//! the same signed request sent again (before and after a restart), and a request signed for
//! one node sent to another (issue 14, items 1–3).

mod common;

use accord_crypto::KeyPair;
use accord_node::events;
use common::*;
use serde_json::{Value, json};

/// Seconds since the epoch.
fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signing_key(key: &KeyPair) -> ed25519_dalek::SigningKey {
    let seed: [u8; 32] = key.private_key_bytes()[..32].try_into().unwrap();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// A request as signed, to be sent to any node (its `host` header stays what was signed).
#[derive(Clone)]
struct Raw {
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    /// Sends it to the node at `base` (the socket; the `Host` header is the signed one):
    /// status and body.
    async fn send_to(&self, base: &str) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(
            self.method.parse().unwrap(),
            format!("{base}{}", self.target),
        );
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.body(self.body.clone()).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// `authority` of a node's URL: `127.0.0.1:port`.
fn authority(node: &accord_node::Running) -> String {
    node.addr.to_string()
}

/// A request signed with RFC 9421 as the client signs it, for `authority`, with the given
/// `created` and `expires`.
fn rfc9421(
    key: &KeyPair,
    authority: &str,
    method: &'static str,
    target: &str,
    body: Option<String>,
    created: i64,
    expires: Option<i64>,
) -> Raw {
    let body = body.map(String::into_bytes).unwrap_or_default();
    let mut headers = vec![("host".to_string(), authority.to_string())];
    let mut components = vec!["@method", "@authority", "@path"];
    if !body.is_empty() {
        headers.push(("content-type".into(), "application/json".into()));
        headers.push((
            "content-digest".into(),
            accord_httpsig::content_digest(&body, accord_httpsig::DigestAlgorithm::Sha256),
        ));
        components.extend(["content-digest", "content-type"]);
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = accord_httpsig::Request {
        method,
        scheme: "http",
        authority,
        path: target,
        query: None,
        headers: &pairs,
        body: &body,
    };
    let key_id = key.public_key().to_base58();
    let params = accord_httpsig::SignParams {
        expires,
        ..accord_httpsig::SignParams::new("sig1", &components, &key_id, created)
    };
    let signed = accord_httpsig::sign(&request, &signing_key(key), &params).unwrap();
    headers.push(("signature-input".into(), signed.signature_input));
    headers.push(("signature".into(), signed.signature));
    Raw {
        method,
        target: target.to_string(),
        headers,
        body,
    }
}

/// A draft-cavage POST signed for `authority` with the headers `signed` names, dated `date`.
fn cavage(
    key: &KeyPair,
    authority: &str,
    target: &str,
    body: String,
    signed: &[&str],
    date: i64,
    created: Option<i64>,
) -> Raw {
    let body = body.into_bytes();
    let mut headers = vec![
        ("host".to_string(), authority.to_string()),
        ("date".into(), accord_httpsig::http_date(date)),
        ("content-type".into(), "application/json".into()),
        (
            "digest".into(),
            accord_httpsig::digest_header(&body, accord_httpsig::DigestAlgorithm::Sha256),
        ),
    ];
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = accord_httpsig::Request {
        method: "POST",
        scheme: "http",
        authority,
        path: target,
        query: None,
        headers: &pairs,
        body: &body,
    };
    let key_id = key.public_key().to_base58();
    let params = accord_httpsig::CavageSignParams {
        created,
        ..accord_httpsig::CavageSignParams::new(&key_id, signed)
    };
    let signature = accord_httpsig::cavage_sign(&request, &signing_key(key), &params).unwrap();
    headers.push(("authorization".into(), signature.authorization_value()));
    Raw {
        method: "POST",
        target: target.to_string(),
        headers,
        body,
    }
}

fn identity_of(name: &str) -> String {
    events::identity(
        &format!("{name}-identity"),
        &user(name).public_key().to_base58(),
        None,
    )
    .to_string()
}

/// Whether `name`'s identity is registered at `node` (asked with a fresh signature).
async fn registered(node: &accord_node::Running, name: &str) -> bool {
    // Read by the identity's own key: a registered identity is not shown to others.
    match client(node, name)
        .get(&format!("/identities/{name}-identity"))
        .await
    {
        Ok(_) => true,
        Err(e) if e.status() == Some(404) => false,
        Err(e) => panic!("{e}"),
    }
}

/// The keys `GET /custody` lists.
async fn custodial_keys(node: &accord_node::Running, admin: &str) -> usize {
    client(node, admin).get("/custody").await.unwrap()["keys"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_long_ago_or_ahead_is_refused_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let here = authority(&node);
    let alice = user("alice");
    let base = url(&node);
    let register = |created, expires| {
        rfc9421(
            &alice,
            &here,
            "POST",
            "/identities",
            Some(identity_of("alice")),
            created,
            expires,
        )
    };
    // Signed an hour ago: refused, with how far off it is.
    let (status, body) = register(now_s() - 3600, None).send_to(&base).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:accord:problem:unauthenticated", "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`created` is 36") && detail.contains("s in the past; at most 300 s"),
        "{detail}"
    );
    // A GET signed a year ago too.
    let (status, body) = rfc9421(
        &alice,
        &here,
        "GET",
        "/event-chains",
        None,
        now_s() - 365 * 86_400,
        None,
    )
    .send_to(&base)
    .await;
    assert_eq!(status, 401, "{body}");
    // An hour ahead.
    let (status, body) = register(now_s() + 3600, None).send_to(&base).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("ahead of this node's clock"),
        "{body}"
    );
    // Its own `expires` passed (beyond the skew): named as such.
    let (status, body) = register(now_s() - 400, Some(now_s() - 350))
        .send_to(&base)
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`expires` passed 35"),
        "{body}"
    );
    // `expires` before `created` is malformed.
    let (status, body) = register(now_s(), Some(now_s() - 10)).send_to(&base).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("is before `created`"),
        "{body}"
    );
    // draft-cavage: a signed `(created)` an hour old, though its Date is fresh.
    let (status, body) = cavage(
        &alice,
        &here,
        "/identities",
        identity_of("alice"),
        &[
            "(request-target)",
            "(created)",
            "host",
            "date",
            "content-type",
            "digest",
        ],
        now_s(),
        Some(now_s() - 3600),
    )
    .send_to(&base)
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("`created` is 36"),
        "{body}"
    );
    // None of them registered anything; the same request signed now does.
    assert!(!registered(&node, "alice").await);
    let (status, body) = register(now_s(), Some(now_s() + 60)).send_to(&base).await;
    assert_eq!(status, 201, "{body}");
    assert!(registered(&node, "alice").await);
    node.stop().await;
}

/// A node whose administrator is `admin`.
async fn node_with_admin(dir: &std::path::Path, admin: &str) -> accord_node::Running {
    let key = user(admin).public_key().to_base58();
    start_with(dir, |mut c| {
        c.admins = vec![key];
        c
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custody_sent_three_times_makes_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_admin(dir.path(), "admin").await;
    let once = rfc9421(
        &user("admin"),
        &authority(&node),
        "POST",
        "/custody",
        Some("{}".into()),
        now_s(),
        None,
    );
    let (status, body) = once.send_to(&url(&node)).await;
    assert_eq!(status, 201, "{body}");
    for _ in 0..2 {
        let (status, body) = once.send_to(&url(&node)).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["type"], "urn:accord:problem:replayed", "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("this signature was used already: sign the request again"),
            "{body}"
        );
    }
    assert_eq!(custodial_keys(&node, "admin").await, 1);
    // The same content signed again is a new request.
    client(&node, "admin").post("/custody", "{}").await.unwrap();
    client(&node, "admin").post("/custody", "{}").await.unwrap();
    assert_eq!(custodial_keys(&node, "admin").await, 3);
    // Reads are not remembered: the same signed GET answers every time.
    let read = rfc9421(
        &user("admin"),
        &authority(&node),
        "GET",
        "/custody",
        None,
        now_s(),
        None,
    );
    for _ in 0..3 {
        let (status, body) = read.send_to(&url(&node)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["keys"].as_array().unwrap().len(), 3);
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custodial_act_sent_five_times_adds_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_admin(dir.path(), "front end").await;
    let device = user("reviewer's browser").public_key().to_base58();
    let entry = client(&node, "front end")
        .post("/custody", json!({"controllers": [device]}).to_string())
        .await
        .unwrap();
    let held = entry["key"].as_str().unwrap().to_string();
    client(&node, "front end")
        .post(
            "/identities",
            events::identity("reviewer-identity", &held, None).to_string(),
        )
        .await
        .unwrap();
    register(&node, &["drafter".to_string()]).await;
    let scenario = scenario("document-signing.json");
    let sid = scenario["id"].as_str().unwrap().to_string();
    let drafter = user("drafter");
    let pid = "replayed-act".to_string();
    let bodies = [
        events::scenario(scenario.clone(), &sid),
        events::identity("drafter-identity", &drafter.public_key().to_base58(), None),
        events::identity("reviewer-identity", &held, None),
        events::process(
            &pid,
            &sid,
            &[
                ("drafter".into(), "drafter-identity".into()),
                ("reviewer".into(), "reviewer-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &drafter)).collect();
    let chain = events::new_chain(
        &drafter,
        b'T',
        &accord_chain::Nonce::from_text(&pid),
        &signed,
        now_ms(),
    )
    .unwrap();
    client(&node, "drafter")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    act(
        &node,
        chain.id(),
        &pid,
        "drafter",
        "request_review",
        None,
        json!({}),
    )
    .await
    .unwrap();
    let head = format!("/event-chains/{}/head", chain.id().to_base58());
    let length = |v: Value| v["length"].as_u64().unwrap();
    let before = length(client(&node, "drafter").get(&head).await.unwrap());
    let review = rfc9421(
        &user("reviewer's browser"),
        &authority(&node),
        "POST",
        &format!("/processes/{pid}/responses"),
        Some(json!({"key": held, "action": "review", "response": "accept"}).to_string()),
        now_s(),
        None,
    );
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(review.send_to(&url(&node)).await);
    }
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    for (status, body) in &answers[1..] {
        assert_eq!(*status, 401, "{body}");
        assert_eq!(body["type"], "urn:accord:problem:replayed", "{body}");
    }
    // One event: the review. The replays built and signed nothing.
    assert_eq!(
        length(client(&node, "drafter").get(&head).await.unwrap()),
        before + 1
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_replayed_after_the_identity_was_deleted_does_not_bring_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let alice = user("alice");
    let here = authority(&node);
    let registration = rfc9421(
        &alice,
        &here,
        "POST",
        "/identities",
        Some(identity_of("alice")),
        now_s(),
        None,
    );
    let (status, body) = registration.send_to(&url(&node)).await;
    assert_eq!(status, 201, "{body}");
    let deletion = rfc9421(
        &alice,
        &here,
        "DELETE",
        "/identities/alice-identity",
        None,
        now_s(),
        None,
    );
    let (status, body) = deletion.send_to(&url(&node)).await;
    assert_eq!(status, 204, "{body}");
    // Whoever saw the registration sends it again: refused, and alice stays deleted.
    let (status, body) = registration.send_to(&url(&node)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:accord:problem:replayed", "{body}");
    assert!(!registered(&node, "alice").await);
    // Alice registers again; the old deletion sent again does not remove her.
    client(&node, "alice")
        .post("/identities", identity_of("alice"))
        .await
        .unwrap();
    let (status, body) = deletion.send_to(&url(&node)).await;
    assert_eq!(status, 401, "{body}");
    assert!(registered(&node, "alice").await);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_the_node_restarts_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_admin(dir.path(), "admin").await;
    let addr = node.addr;
    let once = rfc9421(
        &user("admin"),
        &authority(&node),
        "POST",
        "/custody",
        Some("{}".into()),
        now_s(),
        None,
    );
    let (status, body) = once.send_to(&url(&node)).await;
    assert_eq!(status, 201, "{body}");
    node.stop().await;
    // Again on the same address, so the request is still addressed to it.
    let admin = user("admin").public_key().to_base58();
    let node = start_with(dir.path(), |mut c| {
        c.admins = vec![admin];
        c.listen = addr;
        c
    })
    .await;
    let (status, body) = once.send_to(&url(&node)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:accord:problem:replayed", "{body}");
    assert_eq!(custodial_keys(&node, "admin").await, 1);
    node.stop().await;
}

/// Signatures are recorded only once a handler has decided to act: a refused request records
/// nothing (so strangers cannot fill the store, and a request refused for a reason that passes
/// may be sent again as it is), and the first one carried out is the only one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_records_nothing_and_may_be_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_admin(dir.path(), "admin").await;
    let here = authority(&node);
    // A stranger asks for a custodial key: refused, and refused as a stranger again (not as
    // a replay), since nothing was recorded.
    let stranger = rfc9421(
        &user("stranger"),
        &here,
        "POST",
        "/custody",
        Some("{}".into()),
        now_s(),
        None,
    );
    for _ in 0..3 {
        let (status, body) = stranger.send_to(&url(&node)).await;
        assert_eq!(status, 403, "{body}");
    }
    // Alice stores a scenario before she is registered (403), registers, and sends the same
    // signed request again: now it is carried out, once.
    let scenario = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/scenarios/document-signing.json"),
    )
    .unwrap();
    let push = rfc9421(
        &user("alice"),
        &here,
        "POST",
        "/scenarios",
        Some(scenario),
        now_s(),
        None,
    );
    let (status, body) = push.send_to(&url(&node)).await;
    assert_eq!(status, 403, "{body}");
    client(&node, "alice")
        .post("/identities", identity_of("alice"))
        .await
        .unwrap();
    let (status, body) = push.send_to(&url(&node)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = push.send_to(&url(&node)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:accord:problem:replayed", "{body}");
    node.stop().await;
}

/// `POST /outbox/{id}/replay` is for administrators: a stranger's request is refused as a
/// stranger's every time, not recorded (the handler once recorded before its check, so
/// strangers' fresh keys could fill `seen_signatures` again; found in issue 14's third look).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_refused_outbox_replay_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_admin(dir.path(), "admin").await;
    let stranger = rfc9421(
        &user("stranger"),
        &authority(&node),
        "POST",
        "/outbox/1/replay",
        None,
        now_s(),
        None,
    );
    for n in 0..3 {
        let (status, body) = stranger.send_to(&url(&node)).await;
        assert_eq!(status, 403, "send {n}: {body}");
    }
    node.stop().await;
}

/// A registration replayed after its identity was deleted is refused (401) and gives back the
/// node-wide `self_register_per_minute` token it took, so replays cannot drain the bucket every
/// new user shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_registration_takes_no_node_wide_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |mut c| {
        c.identities.self_register_per_minute = 3;
        c
    })
    .await;
    let registration = rfc9421(
        &user("mallory"),
        &authority(&node),
        "POST",
        "/identities",
        Some(identity_of("mallory")),
        now_s(),
        None,
    );
    // Token 1 of 3: a real registration, then removed.
    let (status, body) = registration.send_to(&url(&node)).await;
    assert_eq!(status, 201, "{body}");
    client(&node, "mallory")
        .call("DELETE", "/identities/mallory-identity", None)
        .await
        .unwrap();
    for _ in 0..2 {
        let (status, body) = registration.send_to(&url(&node)).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["type"], "urn:accord:problem:replayed", "{body}");
    }
    // Two tokens are left for real users.
    for name in ["alice", "bob"] {
        let answer = client(&node, name)
            .post("/identities", identity_of(name))
            .await;
        assert!(answer.is_ok(), "{name}'s registration: {answer:?}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_for_one_node_is_refused_by_another() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path()).await;
    let b = start(dir_b.path()).await;
    let for_a = rfc9421(
        &user("alice"),
        &authority(&a),
        "POST",
        "/identities",
        Some(identity_of("alice")),
        now_s(),
        None,
    );
    // Sent to B as it was signed (Host: A's authority): misdirected, and nothing changes.
    let (status, body) = for_a.send_to(&url(&b)).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(
        body["type"], "urn:accord:problem:misdirected-request",
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("signed for {}", authority(&a)))
            && detail.contains(&authority(&b)),
        "{detail}"
    );
    assert!(!registered(&b, "alice").await);
    // With the Host rewritten to B's after signing, the signature fails.
    let mut rewritten = for_a.clone();
    rewritten.headers[0].1 = authority(&b);
    let (status, body) = rewritten.send_to(&url(&b)).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("does not verify"),
        "{body}"
    );
    assert!(!registered(&b, "alice").await);
    // The node it was signed for takes it.
    let (status, body) = for_a.send_to(&url(&a)).await;
    assert_eq!(status, 201, "{body}");
    assert!(registered(&a, "alice").await);
    // A loopback node answers to `localhost` as well.
    let local = rfc9421(
        &user("bob"),
        &format!("localhost:{}", a.addr.port()),
        "POST",
        "/identities",
        Some(identity_of("bob")),
        now_s(),
        None,
    );
    let (status, body) = local.send_to(&url(&a)).await;
    assert_eq!(status, 201, "{body}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cavage_request_must_sign_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let here = authority(&node);
    let write = ["(request-target)", "date", "content-type", "digest"];
    let (status, body) = cavage(
        &user("alice"),
        &here,
        "/identities",
        identity_of("alice"),
        &write,
        now_s(),
        None,
    )
    .send_to(&url(&node))
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("`host`"),
        "{body}"
    );
    assert!(!registered(&node, "alice").await);
    let with_host = ["(request-target)", "host", "date", "content-type", "digest"];
    let (status, body) = cavage(
        &user("alice"),
        &here,
        "/identities",
        identity_of("alice"),
        &with_host,
        now_s(),
        None,
    )
    .send_to(&url(&node))
    .await;
    assert_eq!(status, 201, "{body}");
    // Signed with its host, for another node: misdirected.
    let (status, body) = cavage(
        &user("bob"),
        "127.0.0.1:1",
        "/identities",
        identity_of("bob"),
        &with_host,
        now_s(),
        None,
    )
    .send_to(&url(&node))
    .await;
    assert_eq!(status, 421, "{body}");
    node.stop().await;
}
