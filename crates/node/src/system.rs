//! System actions: the engine's requests this node runs, answered by events it signs.
//!
//! The pipeline queues a `work` row, in the same transaction as the event that asked for it,
//! only on the node that runs the request (see `pipeline::runs_here`: the node whose key is
//! the acting identity's `system` key). This task claims due rows and turns each into a
//! response event built on the chain's tip and signed with this node's key, through the same
//! pipeline as everything else (so it is delivered to the other parties like any event):
//!
//! - `nop`: the trigger's response and data;
//! - `http`: the call's outcome: `ok` with the answer's body for a 2xx (nothing for a 202: the
//!   service answers later itself), `error` with the status and body otherwise, or with the
//!   reason when the call could not be made (a refused host or address, a timeout, no
//!   connection). Only `http` URLs, hosts in `system.hosts` when that list is not empty, and
//!   no private, loopback or link-local address unless `system.allow_private`; redirects are
//!   not followed, and the address checked is the address called;
//! - `event`: the trigger's body (one event body, or a list of them) added to the chain as
//!   events this node signs, then `ok`;
//! - `broken` (the action's instructions failed): `error` with the reason;
//! - `timer`: `:timeout`, if the process is still in the state that timed out.
//!
//! Which node runs a request is decided alike by every node (`pipeline::runs_here`); whether
//! this node agrees to is its operator's policy (`system.accept`), checked here when a row is
//! carried out, against the registry as it is then, before any call is made or anything is
//! signed. An identity on a chain is written by whoever writes the chain, so naming this
//! node's key as an identity's `system` key is not enough: with `"enrolled"` (the default)
//! the identity's other keys must all be keys of identities an administrator registered on
//! this node, the users its operator enrolled. A row this node does not accept is finished as dead, with the reason logged.
//!
//! Timers are rows with a due time, so they survive a restart. A row is leased while it runs
//! and marked done once its event is stored; if the node stops first, the row comes back when
//! the lease ends (an HTTP call may then be made twice; the second answer is refused by the
//! process, which has moved on).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use accord_chain::ChainId;
use accord_crypto::KeyPair;
use accord_engine::Request;
use accord_store::{RowState, Store, WorkKind, WorkRow};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::config::{Accept, System};
use crate::events;
use crate::pipeline::{Origin, Pipeline, Work};

/// How long a claimed row is leased.
const LEASE: Duration = Duration::from_secs(120);

/// The largest HTTP answer read.
const MAX_ANSWER: usize = 1 << 20;

/// Starts the task. It runs until the runtime stops.
pub fn start<S: Store>(
    store: Arc<S>,
    pipeline: Pipeline,
    key: Arc<KeyPair>,
    settings: System,
    queued: Arc<Notify>,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, pipeline, key, Arc::new(settings), queued, clock))
}

async fn run<S: Store>(
    store: Arc<S>,
    pipeline: Pipeline,
    key: Arc<KeyPair>,
    settings: Arc<System>,
    queued: Arc<Notify>,
    clock: Clock,
) {
    let slots = Arc::new(Semaphore::new(16));
    loop {
        // Slots first, then at most as many rows as there are slots, so a row's lease runs
        // from when it starts.
        let Some(mut permits) = crate::deliver::free_slots(&slots).await else {
            return;
        };
        let now = clock.now_ms();
        let mut claimed = Vec::new();
        for &kind in WorkKind::ALL {
            let free = permits.len().saturating_sub(claimed.len()) as u32;
            if free == 0 {
                break;
            }
            match store
                .claim_work(kind, now, free, now + LEASE.as_millis() as u64)
                .await
            {
                Ok(rows) => claimed.extend(rows),
                Err(e) => tracing::warn!(error = %e, "cannot read the work queue"),
            }
        }
        if claimed.is_empty() {
            drop(permits);
            let _ = tokio::time::timeout(Duration::from_millis(250), queued.notified()).await;
            continue;
        }
        for row in claimed {
            let Some(slot) = permits.pop() else {
                break;
            };
            let (store, pipeline, key, settings) = (
                store.clone(),
                pipeline.clone(),
                key.clone(),
                settings.clone(),
            );
            tokio::spawn(async move {
                let state = match carry_out(&*store, &pipeline, &key, &settings, &row).await {
                    Ok(()) => RowState::Done,
                    Err(Some(why)) => {
                        tracing::warn!(id = row.id, kind = %row.kind, chain = %row.chain, %why, "a system action cannot be carried out");
                        RowState::Dead
                    }
                    // The pipeline is not taking work now: the lease brings the row back.
                    Err(None) => return,
                };
                if let Err(e) = store.finish_work(row.id, state).await {
                    tracing::warn!(error = %e, id = row.id, "cannot mark work as {state}");
                }
                drop(slot);
            });
        }
    }
}

/// A work row's payload: the request as the engine made it (its `kind` is the row's), the
/// process it is for, and the sign keys of the identity that carries it out, as the writer
/// saw them (absent in rows queued before the writer wrote them).
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Queued {
    /// The process (main or sub-process) on the row's chain.
    pub process: String,
    /// The work.
    #[serde(flatten)]
    pub request: Request,
    /// The carrier's sign keys by role (`null`: none), when written.
    #[serde(default, deserialize_with = "present")]
    pub signkeys: Option<Value>,
}

/// A member that is there, even as `null` (which `Option` alone would take for absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    <Value as serde::Deserialize>::deserialize(d).map(Some)
}

impl Queued {
    /// The payload as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a row's payload; the row's kind says which request it is.
    pub fn of(row: &WorkRow) -> Result<Queued, String> {
        let mut payload: Value = serde_json::from_str(&row.payload)
            .map_err(|e| format!("the queued payload is not JSON: {e}"))?;
        let Value::Object(members) = &mut payload else {
            return Err("the queued payload is not a JSON object".into());
        };
        members.insert("kind".into(), Value::from(row.kind.as_str()));
        serde_json::from_value(payload)
            .map_err(|e| format!("the queued payload is not a {} request: {e}", row.kind))
    }
}

/// Runs one row: `Err(Some(why))` when it never can be, `Err(None)` to try again later.
async fn carry_out<S: Store>(
    store: &S,
    pipeline: &Pipeline,
    key: &Arc<KeyPair>,
    settings: &System,
    row: &WorkRow,
) -> Result<(), Option<String>> {
    let queued = Queued::of(row).map_err(Some)?;
    let chain: ChainId = row
        .chain
        .parse()
        .map_err(|e| Some(format!("chain id {}: {e}", row.chain)))?;
    if let Request::Broken { action, reason, .. } = &queued.request
        && action.is_empty()
    {
        return Err(Some(format!(
            "the state's conditions failed, so no action can answer: {reason}"
        )));
    }
    // The operator's policy, before anything is called or signed.
    let keys = acting_keys(store, row, &queued).await?;
    let own = key.public_key().to_base58();
    if let Err(why) = accepts(store, settings.accept, &own, &keys).await? {
        return Err(Some(format!(
            "this node does not carry out this system action (system.accept = \"{}\"): {why}",
            settings.accept.name()
        )));
    }
    let body = match &queued.request {
        Request::Nop {
            action,
            response,
            data,
            ..
        } => events::response(action, Some(response), data.clone()),
        Request::Broken { action, reason, .. } => {
            events::response(action, Some("error"), json!({"reason": reason}))
        }
        Request::Timer { state, .. } => {
            let process = &queued.process;
            let current = store
                .process(&row.chain, process)
                .await
                .map_err(|_| None)?
                .and_then(|p| serde_json::from_str::<Value>(&p.json).ok())
                .and_then(|p| p["current"]["key"].as_str().map(String::from));
            if current.as_deref() != Some(state.as_str()) {
                tracing::debug!(%process, %state, "a time-out for a state the process has left");
                return Ok(());
            }
            events::response(":timeout", Some("ok"), Value::Null)
        }
        Request::Event { action, body, .. } => {
            let bodies = match body {
                Value::Array(list) => list.clone(),
                Value::Object(one) => vec![Value::Object(one.clone())],
                _ => {
                    return Err(Some(
                        "the event trigger's body is neither an event body nor a list of them"
                            .into(),
                    ));
                }
            };
            for body in bodies {
                if !body.is_object() {
                    return Err(Some(format!("an event body is not an object: {body}")));
                }
                build_event(pipeline, key, chain, body).await?;
            }
            events::response(action, Some("ok"), Value::Null)
        }
        Request::Http { action, .. } => match call(settings, &queued.request).await {
            Some((response, data)) => events::response(action, Some(&response), data),
            None => return Ok(()),
        },
    };
    build_event(pipeline, key, chain, body).await
}

/// The sign keys of the identity a row is carried out for: as the pipeline wrote them into
/// the row; for a row queued before it did, as the process holds the identity now.
async fn acting_keys<S: Store>(
    store: &S,
    row: &WorkRow,
    queued: &Queued,
) -> Result<Map<String, Value>, Option<String>> {
    match &queued.signkeys {
        Some(Value::Object(keys)) => return Ok(keys.clone()),
        Some(Value::Null) => return Ok(Map::new()),
        Some(other) => {
            return Err(Some(format!(
                "the queued signkeys are not an object: {other}"
            )));
        }
        None => {}
    }
    let process = queued.process.as_str();
    let doc = store
        .process(&row.chain, process)
        .await
        .map_err(|_| None)?
        .and_then(|p| serde_json::from_str::<Value>(&p.json).ok())
        .ok_or_else(|| {
            Some(format!(
                "process {process} of chain {} is not held",
                row.chain
            ))
        })?;
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    let actor = match &queued.request {
        Request::Timer { .. } => {
            accord_engine::process::first_system_actor(doc).unwrap_or_default()
        }
        Request::Http { actor, .. }
        | Request::Nop { actor, .. }
        | Request::Event { actor, .. }
        | Request::Broken { actor, .. } => actor.as_str(),
    };
    Ok(accord_engine::process::actor_identity(doc, actor)
        .and_then(|identity| identity.signkeys_json().as_object().cloned())
        .unwrap_or_default())
}

/// Whether this node's operator accepts carrying out a system action for an identity with
/// sign keys `keys`, as `accept` says: `Ok(Err(why))` when not. `own` is this node's key.
///
/// With `Enrolled` (`Registered`), the identity must name `own` as its `system` key and at
/// least one other key, and every other key must be a key of an identity an administrator
/// registered on this node (of any registered identity); this node's key itself counts for
/// nothing there: it is no user. The registry is read as it is now: a user removed since the
/// action was asked for is not acted for.
async fn accepts<S: Store>(
    store: &S,
    accept: Accept,
    own: &str,
    keys: &Map<String, Value>,
) -> Result<Result<(), String>, Option<String>> {
    match accept {
        Accept::Any => return Ok(Ok(())),
        Accept::None => return Ok(Err("this node runs no system actions".into())),
        Accept::Enrolled | Accept::Registered => {}
    }
    if keys.get("system").and_then(Value::as_str) != Some(own) {
        return Ok(Err(format!(
            "the identity's system key is {}, not this node's key",
            keys.get("system")
                .map_or("missing".to_string(), Value::to_string)
        )));
    }
    let users: Vec<(&String, &str)> = keys
        .iter()
        .filter(|(role, _)| *role != "system")
        .filter_map(|(role, key)| key.as_str().map(|k| (role, k)))
        .filter(|(_, key)| *key != own)
        .collect();
    if users.is_empty() {
        return Ok(Err(
            "the identity names no key besides this node's, so no user of this node asked for it"
                .into(),
        ));
    }
    let mut strangers = Vec::new();
    for (role, key) in users {
        // A failing store is not a refusal: the lease brings the row back.
        let known = match accept {
            Accept::Enrolled => store.enrolled_identities_of_key(key).await,
            _ => store.identities_of_key(key).await,
        }
        .map_err(|_| None)?;
        if known.is_empty() {
            strangers.push(format!("signkeys.{role} ({key})"));
        }
    }
    if strangers.is_empty() {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "the identity's key{} {} {} not {} on this node",
            if strangers.len() == 1 { "" } else { "s" },
            strangers.join(", "),
            if strangers.len() == 1 { "is" } else { "are" },
            if accept == Accept::Enrolled {
                "enrolled by an administrator (system.accept = \"enrolled\")"
            } else {
                "registered"
            }
        )))
    }
}

/// Adds an event with `body` on the chain's tip, signed by this node.
async fn build_event(
    pipeline: &Pipeline,
    key: &Arc<KeyPair>,
    chain: ChainId,
    body: Value,
) -> Result<(), Option<String>> {
    let outcome = pipeline
        .queue(
            Work::Build {
                chain,
                body,
                key: key.clone(),
            },
            key.public_key().to_base58(),
            Origin::Local,
        )
        .await;
    match outcome {
        Ok(o) if !o.refused.is_empty() => {
            tracing::info!(chain = %chain.to_base58(), reason = %o.refused[0].reason, "the process refused an event of a system action");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(refused) => {
            let p = crate::problem::Problem::from(refused);
            if p.status.as_u16() == 503 {
                Err(None)
            } else {
                Err(Some(p.detail))
            }
        }
    }
}

/// Whether an address is one a system action may not call unless `allow_private`: loopback,
/// private, link-local, shared (100.64/10), unspecified, broadcast, multicast, unique local or
/// site-local; and an IPv6 address that carries an IPv4 one (mapped `::ffff:0:0/96`,
/// compatible `::/96`, NAT64's `64:ff9b::/96`) when that IPv4 address is one of these, since
/// the connection reaches it (a NAT64 gateway translates to it). NAT64's local-use prefix
/// (`64:ff9b:1::/48`) translates into the operator's own network: always refused.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let embedded = || {
                let [.., a, b, c, d] = v6.octets();
                IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
            };
            // `::/96` (`::1` and `::` among them: 0.0.0.1 and 0.0.0.0 are refused as v4).
            if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_private(embedded());
            }
            let first = s[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0], s[1], s[2]) == (0x64, 0xff9b, 1)
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
        }
    }
}

/// A URL's host without the brackets an IPv6 literal is written in (`[::1]` is `::1`), and
/// the address when the host is an address literal rather than a name to resolve.
fn host_of(url: &reqwest::Url) -> Option<(String, Option<IpAddr>)> {
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((bare.to_string(), bare.parse::<IpAddr>().ok()))
}

/// Makes an HTTP trigger's call: the response key and data, or `None` when the service took
/// the request for later (202). A status the action lists as a response key is that response,
/// with the answer's body as data.
async fn call(settings: &System, request: &Request) -> Option<(String, Value)> {
    let Request::Http {
        method,
        url,
        headers,
        body,
        statuses,
        ..
    } = request
    else {
        return None;
    };
    let listed = |status: u16| statuses.iter().any(|k| *k == status.to_string());
    match call_checked(settings, method, url, headers, body).await {
        Ok(None) => None,
        Ok(Some((status, body))) if listed(status) => Some((status.to_string(), body)),
        Ok(Some((status, body))) if (200..300).contains(&status) => Some(("ok".into(), body)),
        Ok(Some((status, body))) => Some(("error".into(), json!({"status": status, "body": body}))),
        Err(why) => Some(("error".into(), json!({"error": why}))),
    }
}

async fn call_checked(
    settings: &System,
    method: &str,
    url: &Value,
    headers: &Value,
    body: &Value,
) -> Result<Option<(u16, Value)>, String> {
    let url = url.as_str().ok_or("the trigger's url is not text")?;
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "url {url:?}: only http is supported (this build makes no TLS connections)"
        ));
    }
    let (host, literal) = host_of(&parsed).ok_or_else(|| format!("url {url:?} has no host"))?;
    if !settings.hosts.is_empty()
        && !settings.hosts.iter().any(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(&host)
        })
    {
        return Err(format!("host {host} is not in system.hosts"));
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    // An address literal is the address called; a name is resolved once, here, and the
    // connection pinned to the address checked.
    let addrs: Vec<SocketAddr> = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect(),
    };
    let addr = *addrs
        .first()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    if !settings.allow_private
        && let Some(bad) = addrs.iter().find(|a| is_private(a.ip()))
    {
        return Err(match literal {
            Some(ip) => {
                format!("{ip} is a private or loopback address (allow with system.allow_private)")
            }
            None => format!(
                "{host} resolves to {}, a private or loopback address (allow with system.allow_private)",
                bad.ip()
            ),
        });
    }
    // No proxy, not even one the environment names (`HTTP_PROXY`, `ALL_PROXY`): a proxy would
    // resolve the name again and connect where it likes, so the address checked would not be
    // the address called.
    let mut client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(settings.timeout_ms));
    if literal.is_none() {
        client = client.resolve(&host, addr);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    let method =
        reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("method: {e}"))?;
    let mut request = client.request(method, parsed);
    if let Value::Object(headers) = headers {
        for (name, value) in headers {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            request = request.header(name.as_str(), value);
        }
    }
    match body {
        Value::Null => {}
        Value::String(s) => request = request.body(s.clone()),
        other => {
            request = request
                .header("content-type", "application/json")
                .body(other.to_string());
        }
    }
    let mut response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("{url} did not answer within {} ms", settings.timeout_ms)
        } else {
            format!("cannot call {url}: {e}")
        }
    })?;
    let status = response.status().as_u16();
    if status == 202 {
        return Ok(None);
    }
    let bytes = crate::client::read_capped(&mut response, MAX_ANSWER)
        .await
        .map_err(|e| format!("reading {url}'s answer: {e}"))?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Some((status, body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_store::{Enrolment, Identities};

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            // IPv4 in IPv6: compatible, NAT64 (well-known and local-use), and site-local.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.1.2.3",
            "64:ff9b:1::8.8.8.8",
            "fec0::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::8.8.8.8",
            "2001:db8::1",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn an_ipv6_literal_is_an_address_without_its_brackets() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        let (host, ip) = host_of(&url("http://[::1]:8080/hook")).unwrap();
        assert_eq!((host.as_str(), ip), ("::1", Some("::1".parse().unwrap())));
        let (host, ip) = host_of(&url("http://[FD00::1]/")).unwrap();
        assert_eq!(
            (host.as_str(), ip),
            ("fd00::1", Some("fd00::1".parse().unwrap()))
        );
        let (host, ip) = host_of(&url("http://127.0.0.1:1/")).unwrap();
        assert_eq!(
            (host.as_str(), ip),
            ("127.0.0.1", Some("127.0.0.1".parse().unwrap()))
        );
        let (host, ip) = host_of(&url("http://hooks.example/x")).unwrap();
        assert_eq!((host.as_str(), ip), ("hooks.example", None));
    }

    fn settings(allow_private: bool, hosts: &[&str]) -> System {
        System {
            allow_private,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            timeout_ms: 500,
            ..System::default()
        }
    }

    fn row(kind: WorkKind, payload: &str) -> WorkRow {
        WorkRow {
            id: 1,
            kind,
            chain: "c".into(),
            payload: payload.into(),
            state: RowState::Pending,
            due_at: 0,
            attempts: 0,
        }
    }

    /// The request is stored as the engine made it and read back the same; rows written by
    /// earlier builds (no `kind` member; no `signkeys`, or `null` ones) still read.
    #[test]
    fn a_queued_request_reads_back_as_it_was_and_earlier_rows_still_read() {
        let queued = Queued {
            process: "p".into(),
            request: Request::Http {
                action: "call".into(),
                actor: "service".into(),
                method: "POST".into(),
                url: json!("http://hooks.example/x"),
                headers: json!({"x-a": "1"}),
                body: json!({"n": 1}),
                statuses: vec!["201".into()],
            },
            signkeys: Some(json!({"system": "node"})),
        };
        assert_eq!(
            Queued::of(&row(WorkKind::Http, &queued.to_json())).unwrap(),
            queued
        );
        let earlier = r#"{"process":"p","action":"say","actor":"a","response":"ok","data":"hi"}"#;
        let read = Queued::of(&row(WorkKind::Nop, earlier)).unwrap();
        assert_eq!(read.signkeys, None);
        assert_eq!(
            read.request,
            Request::Nop {
                action: "say".into(),
                actor: "a".into(),
                response: "ok".into(),
                data: json!("hi")
            }
        );
        let none = r#"{"process":"p","state":"s","due":5,"signkeys":null}"#;
        let read = Queued::of(&row(WorkKind::Timer, none)).unwrap();
        assert_eq!(read.signkeys, Some(Value::Null));
        assert_eq!(
            read.request,
            Request::Timer {
                state: "s".into(),
                due: 5
            }
        );
        // The row's kind decides, whatever the payload says; a payload that is not that
        // request is named as such.
        let err = Queued::of(&row(WorkKind::Timer, earlier)).unwrap_err();
        assert!(err.contains("not a timer request"), "{err}");
        assert!(Queued::of(&row(WorkKind::Nop, "[1]")).is_err());
    }

    /// A GET of `url` with no headers and no body, as a trigger asks for it.
    async fn get(settings: &System, url: &str) -> Result<Option<(u16, Value)>, String> {
        call_checked(settings, "GET", &json!(url), &Value::Null, &Value::Null).await
    }

    #[tokio::test]
    async fn private_ipv6_literals_are_refused_before_any_connection() {
        for url in [
            "http://[::1]:9/hook",
            "http://[fd00::1]:9/",
            "http://[fe80::1]:9/",
            "http://[::ffff:127.0.0.1]:9/",
            "http://[::]:9/",
        ] {
            let err = get(&settings(false, &[]), url).await.unwrap_err();
            assert!(
                err.contains("is ") && err.contains("private or loopback"),
                "{url}: {err}"
            );
            assert!(!err.contains("cannot resolve"), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn system_hosts_match_an_ipv6_literal_with_or_without_brackets() {
        let url = "http://[2001:db8::1]:9/";
        let err = get(&settings(false, &["hooks.example"]), url)
            .await
            .unwrap_err();
        assert!(
            err.contains("host 2001:db8::1 is not in system.hosts"),
            "{err}"
        );
        // Listed, it passes the host check (and fails later: nothing listens there).
        for listed in ["2001:db8::1", "[2001:DB8::1]"] {
            let mut s = settings(false, &[listed]);
            s.timeout_ms = 50;
            let err = get(&s, url).await.unwrap_err();
            assert!(!err.contains("system.hosts"), "{listed}: {err}");
        }
    }

    #[tokio::test]
    async fn acceptance_is_by_registered_keys_besides_this_nodes_system_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("node.db").display());
        let store = accord_store::SqlStore::open(&url, accord_store::sql::Durability::Process)
            .await
            .unwrap();
        let own = "own-node-key";
        let keys = |pairs: &[(&str, &str)]| -> Map<String, Value> {
            pairs
                .iter()
                .map(|(r, k)| (r.to_string(), Value::from(*k)))
                .collect()
        };
        store
            .put_identity(
                "alice",
                "{}",
                &["alice-key".into(), own.into()],
                Enrolment::Enrolled,
                1,
            )
            .await
            .unwrap();
        let check = |accept, k: Map<String, Value>| {
            let store = &store;
            async move { accepts(store, accept, own, &k).await.unwrap() }
        };
        let alice = keys(&[("user", "alice-key"), ("system", own)]);
        assert_eq!(check(Accept::Registered, alice.clone()).await, Ok(()));
        assert_eq!(check(Accept::Enrolled, alice.clone()).await, Ok(()));
        // A user who registered itself is registered, not enrolled.
        store
            .put_identity(
                "bob",
                "{}",
                &["bob-key".into()],
                Enrolment::SelfRegistered,
                1,
            )
            .await
            .unwrap();
        let bob = keys(&[("user", "bob-key"), ("system", own)]);
        assert_eq!(check(Accept::Registered, bob.clone()).await, Ok(()));
        let why = check(Accept::Enrolled, bob).await.unwrap_err();
        assert!(why.contains("not enrolled by an administrator"), "{why}");
        assert!(check(Accept::None, alice.clone()).await.is_err());
        // A stranger, beside a registered user or alone.
        let mixed = keys(&[
            ("user", "alice-key"),
            ("other", "mallory-key"),
            ("system", own),
        ]);
        let why = check(Accept::Registered, mixed.clone()).await.unwrap_err();
        assert!(
            why.contains("signkeys.other (mallory-key) is not registered"),
            "{why}"
        );
        assert_eq!(check(Accept::Any, mixed).await, Ok(()));
        // No user at all, or only this node's key in another role (which a registered
        // identity's system key puts in the registry): no user asked.
        for lone in [
            keys(&[("system", own)]),
            keys(&[("user", own), ("system", own)]),
        ] {
            let why = check(Accept::Registered, lone).await.unwrap_err();
            assert!(why.contains("names no key besides this node's"), "{why}");
        }
        // Another node's system key: not this node's to run.
        let why = check(
            Accept::Registered,
            keys(&[("user", "alice-key"), ("system", "b")]),
        )
        .await
        .unwrap_err();
        assert!(why.contains("not this node's key"), "{why}");
    }
}
