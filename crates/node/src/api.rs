//! The HTTP API. Every route is declared once, with its OpenAPI description, and the router
//! and `/openapi.json` are both built from those declarations (`utoipa-axum`), so they cannot
//! drift apart.
//!
//! Access rule: a chain, its events and its processes are served only to its parties (keys of
//! its identities and signers of its events), this node's key and configured administrators.
//! Anyone else gets the same 404 as for a chain that does not exist.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use accord_chain::PartialStart;
use accord_crypto::base58;
use accord_store::{Chains, Identities, Outbox, Processes, Scenarios, SeenSignatures};
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, Caller};
use crate::pipeline::{Origin, Outcome};
use crate::problem::{Problem, parse_json};

use crate::app::App;

/// Which chain's process a request means: the `chain` query parameter of the process routes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProcessQuery {
    /// The chain (base58 id) holding the process. Needed only when chains this key may read
    /// hold more than one process with this id (otherwise the answer is a 409
    /// `ambiguous-process` listing them).
    pub chain: Option<String>,
}

impl ProcessQuery {
    /// The chain named, checked to be a chain id.
    fn chain(&self) -> Result<Option<&str>, Problem> {
        match self.chain.as_deref() {
            None => Ok(None),
            Some(chain) => chain_id_in(chain, "the query's `chain`")
                .map(|()| Some(chain))
                .map_err(|p| p.with("parameter", "chain")),
        }
    }
}

/// `Ok` when `chain` (found where `place` says) is a chain id.
fn chain_id_in(chain: &str, place: &str) -> Result<(), Problem> {
    chain
        .parse::<accord_chain::ChainId>()
        .map(|_| ())
        .map_err(|e| Problem::invalid(format!("{place} is not a chain id: {chain:?}: {e}")))
}

/// How a caller names the chain of an ambiguous process on the read routes.
const NAME_A_CHAIN: &str = "name one with `?chain=<chain id>`";

type Shared = State<Arc<App>>;

/// A request whose signatures verified and that is addressed to this node, with its body.
///
/// A signature is good once. The body of a request that may change something (any method but
/// GET, HEAD and OPTIONS) is reachable only through [`Signed::spend`], which records the
/// request's signatures in the store (a signature recorded already is a replay, 401
/// `replayed`), or [`Signed::submission`], for a chain, whose effect is idempotent by event
/// hash (a replay adds nothing). A handler spends a request once it has decided that the
/// caller may ask for it, just before it acts: the store records only the signatures of keys
/// the node serves (so strangers cannot fill it), and a refused request may be sent again as
/// it is. A handler that answers such a request with success without calling either is
/// reported by the router (`check_spent`); [`Signed::peek`] reads the body before deciding.
pub struct Signed {
    /// Who signed it.
    pub caller: Caller,
    body: Bytes,
    /// The request's signatures, when it may change something.
    signatures: Vec<auth::SignatureId>,
    labels: Vec<String>,
    spending: Spending,
}

/// Whether a handler settled a request's signatures (`Signed::spend` or
/// `Signed::submission`), for the router's check: the extractor marks a request that may
/// change something [`UNSPENT`], the handler [`SPENT`].
#[derive(Clone, Default)]
struct Spending(Arc<AtomicU8>);

const UNSPENT: u8 = 1;
const SPENT: u8 = 2;

impl Spending {
    fn set(&self, state: u8) {
        self.0.store(state, Ordering::Relaxed);
    }
}

/// Whether a request cannot change anything, so its signatures are not remembered: a replayed
/// read tells the replayer nothing it did not see, and is refused at any other node.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl Signed {
    /// Records the request's signatures in the store (each until it expires), then gives its
    /// body: every handler of a request whose effect is not idempotent calls this once it has
    /// found the caller may ask for it, before it acts, so the request is carried out once,
    /// across restarts too. A signature the store holds already is a replay (401); the
    /// store's insert decides, so of two copies sent at once exactly one is carried out.
    pub async fn spend(&self, app: &App) -> Result<&Bytes, Problem> {
        for (id, label) in self.signatures.iter().zip(&self.labels) {
            if !app
                .store
                .remember_signature(&id.digest, id.until_ms())
                .await?
            {
                app.metrics
                    .requests_replayed
                    .fetch_add(1, Ordering::Relaxed);
                return Err(replayed(label));
            }
        }
        self.spending.set(SPENT);
        Ok(&self.body)
    }

    /// The body of a chain submission (`POST /event-chains`, a chain on
    /// `POST /processes/{id}/responses`): events the node holds are skipped by hash, so a
    /// replay adds nothing and its signatures are not recorded.
    pub fn submission(&self) -> &Bytes {
        self.spending.set(SPENT);
        &self.body
    }

    /// The body, to decide whether the caller may ask for what it asks; a handler that then
    /// acts calls [`Signed::submission`] or [`Signed::spend`] first.
    pub fn peek(&self) -> &[u8] {
        &self.body
    }
}

/// 401 `replayed` for the signature labelled `label`.
fn replayed(label: &str) -> Problem {
    Problem::replayed(format!(
        "this signature was used already: sign the request again (signature `{label}`; a signature is good once)"
    ))
}

impl FromRequest<Arc<App>> for Signed {
    type Rejection = Problem;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let limit = app.config.body_limit;
        if let Some(length) = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && length > limit
        {
            return Err(Problem::too_large(limit));
        }
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| Problem::too_large(limit))?;
        let now = app.clock.now_secs();
        let authenticated = auth::authenticate(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &body,
            now,
            i64::try_from(app.config.max_clock_skew).unwrap_or(i64::MAX),
            &app.authorities,
        )?;
        let caller = authenticated.caller;
        if let Err(wait) = app.limiter.check(&caller.key, Instant::now()) {
            app.metrics.requests_limited.fetch_add(1, Ordering::Relaxed);
            return Err(Problem::rate_limited(wait));
        }
        let spending = parts
            .extensions
            .get::<Spending>()
            .cloned()
            .unwrap_or_default();
        if is_safe(&parts.method) {
            return Ok(Signed {
                caller,
                body,
                signatures: Vec::new(),
                labels: Vec::new(),
                spending,
            });
        }
        spending.set(UNSPENT);
        Ok(Signed {
            caller,
            body,
            signatures: authenticated.signatures,
            labels: authenticated.labels,
            spending,
        })
    }
}

/// Reports a handler that answered a request that may change something with success without
/// spending its signatures ([`Signed::spend`], [`Signed::submission`]): its effect would be
/// carried out again by a replay after a restart. Logged; in debug builds (the tests) the
/// answer becomes a 500, so such a handler cannot pass its tests.
async fn check_spent(mut req: Request, next: axum::middleware::Next) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    let spending = Spending::default();
    req.extensions_mut().insert(spending.clone());
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let response = next.run(req).await;
    if response.status().is_success() && spending.0.load(Ordering::Relaxed) == UNSPENT {
        let what = format!("{method} {}", uri.path());
        tracing::error!(request = %what, "a handler carried out a request without spending its signatures (Signed::spend or Signed::submission)");
        if cfg!(debug_assertions) {
            return Problem::internal(format!(
                "the handler of {what} did not spend the request's signatures"
            ))
            .into_response();
        }
    }
    response
}

/// JSON with a status.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Raw JSON text with a status.
fn raw_json(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn not_found(what: &str, id: &str) -> Problem {
    Problem::not_found(format!("no {what} {id} that this key may see"))
}

// ---------------------------------------------------------------------------------------------
// Health, metrics, the document

/// The node is up.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, description = "The process is running", body = Value)))]
async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// The node can take requests: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "node", responses(
    (status = 200, description = "Ready", body = Value),
    (status = 503, description = "The database does not answer", body = Value)))]
async fn readyz(State(app): Shared) -> Response {
    match app.store.head("").await {
        Ok(_) => json_response(
            StatusCode::OK,
            &json!({"status": "ready", "node": app.node_key}),
        ),
        Err(e) => {
            Problem::unavailable(format!("the database does not answer: {e}")).into_response()
        }
    }
}

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "node", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
async fn metrics(State(app): Shared) -> Response {
    let mut text = app.metrics.render();
    match app.store.outbox_counts().await {
        Ok(counts) => {
            text.push_str("# HELP accord_outbox_rows Outbox rows (one per peer node and chain) by peer and state.\n# TYPE accord_outbox_rows gauge\n");
            // Configured peers by key (base58: nothing to escape); anything an identity named
            // that is not one, summed under one label (users write those names).
            let mut rows: std::collections::BTreeMap<(String, &str), u64> = Default::default();
            for (peer, state, n) in counts {
                let peer = if app.peers.is_peer(&peer) {
                    peer
                } else {
                    "unconfigured".to_string()
                };
                *rows.entry((peer, state.as_str())).or_default() += n;
            }
            for ((peer, state), n) in rows {
                text.push_str(&format!(
                    "accord_outbox_rows{{peer=\"{peer}\",state=\"{state}\"}} {n}\n"
                ));
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count the outbox for /metrics"),
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

// ---------------------------------------------------------------------------------------------
// Event chains

/// Paging of a listing.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Start after this id.
    pub after: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<u32>,
}

/// Paging of a chain's events.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after the one with this hash (base58); the chain's initial hash or nothing for
    /// all.
    pub after: Option<String>,
    /// From this position (0 is the first event this node holds).
    pub from: Option<u64>,
    /// At most this many (1–1000, default 1000).
    pub limit: Option<u32>,
}

/// Waiting for a chain to grow.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeadQuery {
    /// Answer once the chain holds at least this many events (default: at once).
    pub min_length: Option<u64>,
    /// How long to wait for `min_length`, in milliseconds (default 0, at most 30,000); when
    /// it runs out, the answer is the head as it stands.
    pub wait_ms: Option<u64>,
}

/// The longest a `GET /event-chains/{id}/head` waits for `min_length`.
pub const MAX_HEAD_WAIT_MS: u64 = 30_000;

/// A chain in a listing.
#[derive(Serialize, ToSchema)]
pub struct ChainSummary {
    /// The chain id.
    pub id: String,
    /// Events held.
    pub length: u64,
    /// The hash the next event must name.
    pub tip: String,
}

/// A page of chains.
#[derive(Serialize, ToSchema)]
pub struct ChainList {
    /// The chains.
    pub chains: Vec<ChainSummary>,
    /// The `after` for the next page, when there may be one.
    pub next: Option<String>,
}

/// Add events to a chain (or start one): the event pipeline.
///
/// The body is a chain in the reference client's JSON (`{"id", "events": […]}`), whole or
/// partial (starting with a `{"hash", "state"}` stub). Events the node holds already are
/// skipped; the rest must extend the chain's tip. Events the process refuses are kept and
/// answered by an error event this node signs.
#[utoipa::path(post, path = "/event-chains", tag = "event chains",
    request_body(content = Value, description = "A chain in the reference JSON layout", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (see `refused` for events the process refused)", body = Outcome),
        (status = 400, description = "Malformed JSON or an invalid chain", body = Value, content_type = "application/problem+json"),
        (status = 401, description = "Not signed", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "The signer may not add to this chain", body = Value, content_type = "application/problem+json"),
        (status = 409, description = "A fork, missing events, or an unknown chain sent partially", body = Value, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Value, content_type = "application/problem+json")))]
async fn post_event_chain(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
    let outcome = crate::sync::receive(&app, &signed.caller, signed.submission(), false)
        .await
        .inspect_err(|problem| {
            // What a peer node sends wrongly is worth an operator's look.
            if app.peers.is_peer(&signed.caller.key) {
                tracing::warn!(peer = %signed.caller.key, kind = problem.kind, detail = %problem.detail, "a peer's delivery was refused");
            }
        })?;
    Ok(json_response(StatusCode::OK, &outcome))
}

/// A chain's head.
#[derive(Serialize, ToSchema)]
pub struct ChainHead {
    /// The chain id.
    pub id: String,
    /// Events held.
    pub length: u64,
    /// The hash the next event must name as `previous`.
    pub tip: String,
    /// The chain's state after its last event (for the stub of a partial chain).
    pub state: String,
    /// The timestamp of the chain's last event (milliseconds since the epoch; 0 when the
    /// node holds none): a new event may not be stamped earlier.
    pub timestamp: u64,
}

/// Where a chain stands: what a new event must link to.
///
/// With `min_length=N&wait_ms=T`, a long poll: the answer comes as soon as the chain holds N
/// events (at once if it does already), or with the head as it stands when T milliseconds
/// (at most 30,000) run out. The writer hands the new head to each waiter it satisfies, so
/// waiting costs no database reads.
#[utoipa::path(get, path = "/event-chains/{id}/head", tag = "event chains",
    params(("id" = String, Path, description = "The chain id (base58)"), HeadQuery),
    responses((status = 200, description = "The head (when waiting: once it holds `min_length` events, or when `wait_ms` ran out)", body = ChainHead),
        (status = 404, description = "No such chain this key may see", body = Value, content_type = "application/problem+json")))]
async fn get_head(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<HeadQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    if !app.may_read(&id, &signed.caller.key).await? {
        return Err(not_found("chain", &id));
    }
    let wait = std::time::Duration::from_millis(q.wait_ms.unwrap_or(0).min(MAX_HEAD_WAIT_MS));
    // Registered before the read, so a commit between the two is seen by one or the other.
    let mut waiting = match q.min_length {
        Some(n) if !wait.is_zero() => Some(app.pipeline.heads.wait(&id, n)),
        _ => None,
    };
    let mut head = app
        .store
        .head(&id)
        .await?
        .ok_or_else(|| not_found("chain", &id))?;
    if let (Some(waiting), Some(n)) = (&mut waiting, q.min_length)
        && head.length < n
    {
        match waiting.until(wait).await {
            Some(newer) => head = newer,
            // Time ran out: the head as it stands now.
            None => {
                head = app
                    .store
                    .head(&id)
                    .await?
                    .ok_or_else(|| not_found("chain", &id))?;
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &ChainHead {
            id,
            length: head.length,
            tip: base58::encode(&head.tip),
            state: base58::encode(&head.state),
            timestamp: head.timestamp,
        },
    ))
}

/// The chains this key is a party to.
#[utoipa::path(get, path = "/event-chains", tag = "event chains", params(ListQuery),
    responses((status = 200, description = "A page of chains", body = ChainList),
        (status = 401, description = "Not signed", body = Value, content_type = "application/problem+json")))]
async fn list_event_chains(
    State(app): Shared,
    Query(q): Query<ListQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let heads = app
        .store
        .chains_of(&signed.caller.key, q.after.as_deref(), limit)
        .await?;
    let next = (heads.len() == limit as usize)
        .then(|| heads.last().map(|h| h.chain.clone()))
        .flatten();
    Ok(json_response(
        StatusCode::OK,
        &ChainList {
            chains: heads
                .into_iter()
                .map(|h| ChainSummary {
                    id: h.chain,
                    length: h.length,
                    tip: base58::encode(&h.tip),
                })
                .collect(),
            next,
        },
    ))
}

/// A chain (a page of its events) in the reference client's JSON layout.
///
/// Up to 1,000 events a page. A page that does not start at the chain's first event starts
/// with a `{"hash", "state"}` stub, so every page is a valid partial chain. `Link: <…>;
/// rel="next"` points to the next page.
#[utoipa::path(get, path = "/event-chains/{id}", tag = "event chains",
    params(("id" = String, Path, description = "The chain id (base58)"), EventsQuery),
    responses((status = 200, description = "The chain", body = Value),
        (status = 404, description = "No such chain this key may see", body = Value, content_type = "application/problem+json")))]
async fn get_event_chain(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    chain_page(&app, &id, &q, &signed.caller).await
}

/// The events of a chain after a given one, as a partial chain (for catching up).
#[utoipa::path(get, path = "/event-chains/{id}/events", tag = "event chains",
    params(("id" = String, Path, description = "The chain id (base58)"), EventsQuery),
    responses((status = 200, description = "The events after `after`, as a partial chain", body = Value),
        (status = 404, description = "No such chain or event this key may see", body = Value, content_type = "application/problem+json")))]
async fn get_events(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    chain_page(&app, &id, &q, &signed.caller).await
}

async fn chain_page(
    app: &App,
    id: &str,
    q: &EventsQuery,
    caller: &Caller,
) -> Result<Response, Problem> {
    if !app.may_read(id, &caller.key).await? {
        return Err(not_found("chain", id));
    }
    let Some(head) = app.store.head(id).await? else {
        return Err(not_found("chain", id));
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 1000);
    let own_start = head.start.map(|(hash, state)| PartialStart { hash, state });
    let from = match (&q.after, q.from) {
        (Some(_), Some(_)) => {
            return Err(Problem::invalid("give `after` or `from`, not both"));
        }
        (Some(after), None) => {
            let hash: [u8; 32] = base58::decode(after)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    Problem::invalid(format!("`after` is not a base58 event hash: {after:?}"))
                })?;
            let chain_id: accord_chain::ChainId = id
                .parse()
                .map_err(|e| Problem::invalid(format!("chain id {id}: {e}")))?;
            let start_hash = own_start.map_or_else(|| chain_id.initial_hash(), |s| s.hash);
            if hash == start_hash {
                0
            } else {
                app.store
                    .find_event(id, &hash)
                    .await?
                    .map(|seq| seq + 1)
                    .ok_or_else(|| not_found("event", after))?
            }
        }
        (None, from) => from.unwrap_or(0),
    };
    let rows = if from < head.length {
        app.store.events(id, from, limit).await?
    } else {
        Vec::new()
    };
    // The stub: where this page continues from.
    let stub = if from == 0 {
        own_start
    } else if from <= head.length {
        let before = app.store.events(id, from - 1, 1).await?;
        before.first().map(|e| PartialStart {
            hash: e.hash,
            state: e.state,
        })
    } else {
        return Err(Problem::invalid(format!(
            "`from` is {from}, past the chain's {} events",
            head.length
        )));
    };
    let next = from + rows.len() as u64;
    let text =
        accord_chain::json::chain_json(id, stub.as_ref(), rows.iter().map(|r| r.json.as_str()));
    let mut response = raw_json(StatusCode::OK, text);
    if next < head.length
        && let Ok(link) = HeaderValue::from_str(&format!(
            "</event-chains/{id}?from={next}&limit={limit}>; rel=\"next\""
        ))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    if let Ok(total) = HeaderValue::from_str(&head.length.to_string()) {
        response.headers_mut().insert("x-total-count", total);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// A stored scenario.
#[derive(Serialize, ToSchema)]
pub struct ScenarioStored {
    /// Its id.
    pub id: String,
    /// Whether it was new to this node.
    pub created: bool,
    /// Warnings found when checking it.
    pub warnings: Vec<Value>,
}

fn diagnostic_json(d: &accord_scenario::Diagnostic) -> Value {
    json!({
        "severity": match d.severity { accord_scenario::Severity::Error => "error", accord_scenario::Severity::Warning => "warning" },
        "pointer": d.pointer,
        "code": d.code,
        "message": d.message,
    })
}

/// Store a scenario (JSON, or YAML with `Content-Type: application/yaml`) after checking it.
///
/// A scenario with errors is refused with every diagnostic (severity, JSON pointer, code,
/// message) in the problem body. A scenario without an `id` is stored under the base58
/// SHA-256 of its JSON.
#[utoipa::path(post, path = "/scenarios", tag = "scenarios",
    request_body(content = Value, description = "A Live Contracts scenario", content_type = "application/json"),
    responses(
        (status = 201, description = "Stored", body = ScenarioStored),
        (status = 200, description = "The same scenario was stored already", body = ScenarioStored),
        (status = 409, description = "A different scenario has this id", body = Value, content_type = "application/problem+json"),
        (status = 422, description = "The scenario has errors", body = Value, content_type = "application/problem+json")))]
async fn post_scenario(State(app): Shared, req: Request) -> Result<Response, Problem> {
    let yaml = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("yaml"));
    let signed = Signed::from_request(req, &app).await?;
    if !app.is_registered(&signed.caller.key).await? {
        return Err(Problem::forbidden(format!(
            "key {} may not store scenarios on this node: register an identity with this key first",
            signed.caller.key
        )));
    }
    let text = std::str::from_utf8(signed.peek())
        .map_err(|e| Problem::bad_json(format!("the body is not UTF-8: {e}")))?;
    let format = if yaml {
        accord_scenario::Format::Yaml
    } else {
        accord_scenario::Format::Json
    };
    let value =
        accord_scenario::doc::parse(text, format).map_err(|e| Problem::bad_json(e.to_string()))?;
    // The verdict every part of Accord gives, with its trial start (issue 15, "one verdict"),
    // off the async threads: a scenario's initial state may take a while to evaluate.
    let (value, verdict) = tokio::task::spawn_blocking(move || {
        let verdict = accord_engine::judge(&value);
        (value, verdict)
    })
    .await
    .map_err(|e| Problem::internal(format!("the scenario's verdict did not finish: {e}")))?;
    let diagnostics: Vec<Value> = verdict.diagnostics.iter().map(diagnostic_json).collect();
    let Some(compiled) = verdict.compiled else {
        let errors = verdict
            .diagnostics
            .iter()
            .filter(|d| d.severity == accord_scenario::Severity::Error)
            .count();
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-scenario",
            "The scenario has errors",
            format!("the scenario has {errors} error(s); see `diagnostics`"),
        )
        .with("diagnostics", diagnostics));
    };
    let json = value.to_string();
    let id = compiled
        .scenario
        .id
        .clone()
        .unwrap_or_else(|| base58::encode(&accord_crypto::hash::sha256(json.as_bytes())));
    // Storing a scenario again changes nothing, but spending is cheap here and keeps the rule
    // plain: only chain submissions are not spent.
    signed.spend(&app).await?;
    let created = app
        .store
        .put_scenario(&id, &json, app.clock.now_ms())
        .await?;
    Ok(json_response(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &ScenarioStored {
            id,
            created,
            warnings: diagnostics,
        },
    ))
}

/// A stored scenario.
#[utoipa::path(get, path = "/scenarios/{id}", tag = "scenarios",
    params(("id" = String, Path, description = "The scenario id")),
    responses((status = 200, description = "The scenario", body = Value),
        (status = 404, description = "No such scenario", body = Value, content_type = "application/problem+json")))]
async fn get_scenario(
    State(app): Shared,
    Path(id): Path<String>,
    _signed: Signed,
) -> Result<Response, Problem> {
    match app.store.scenario(&id).await? {
        Some(json) => Ok(raw_json(StatusCode::OK, json)),
        None => Err(Problem::not_found(format!("no scenario {id}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A process in a listing.
#[derive(Serialize, ToSchema)]
pub struct ProcessSummary {
    /// The process id.
    pub id: String,
    /// Its chain.
    pub chain: String,
    /// Its title.
    pub title: Value,
    /// Its scenario's id.
    pub scenario: Value,
    /// The state it is in.
    pub state: Value,
}

/// A page of processes.
#[derive(Serialize, ToSchema)]
pub struct ProcessList {
    /// The processes, by process id and then chain id; a process with the same id on two
    /// chains is listed once for each.
    pub processes: Vec<ProcessSummary>,
    /// The `after` for the next page, when there may be one: an opaque cursor.
    pub next: Option<String>,
}

/// Paging of the process listing.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProcessListQuery {
    /// Start after this process: the `next` of the page before (an opaque cursor).
    pub after: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<u32>,
}

/// The listing's cursor after a process: base64url (no padding) of `<chain id>:<process id>`.
/// Processes are listed by (id, chain), and one id may be on several chains, so the cursor
/// names both; a chain id is base58 and never holds a `:`, so the first one ends it. Clients
/// pass it back as it is (`after`), and never build one.
fn process_cursor(id: &str, chain: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{chain}:{id}"))
}

/// Reads a cursor [`process_cursor`] made: (process id, chain id).
fn read_process_cursor(after: &str) -> Result<(String, String), Problem> {
    use base64::Engine as _;
    let bad = || {
        Problem::invalid(format!(
            "`after` is not a cursor this node gave as `next`: {after:?}"
        ))
        .with("parameter", "after")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(after)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (chain, id) = text.split_once(':').ok_or_else(bad)?;
    if chain.is_empty() {
        return Err(bad());
    }
    Ok((id.to_string(), chain.to_string()))
}

/// The processes on chains this key is a party to.
///
/// Listed by process id, then chain id: a process id on several chains is listed once for
/// each (`chain` tells them apart). `next` is an opaque cursor for `after`.
#[utoipa::path(get, path = "/processes", tag = "processes", params(ProcessListQuery),
    responses((status = 200, description = "A page of processes", body = ProcessList),
        (status = 400, description = "`after` is not a cursor this node gave", body = Value, content_type = "application/problem+json")))]
async fn list_processes(
    State(app): Shared,
    Query(q): Query<ProcessListQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after.as_deref().map(read_process_cursor).transpose()?;
    let rows = app
        .store
        .processes_of(
            &signed.caller.key,
            after
                .as_ref()
                .map(|(id, chain)| (id.as_str(), chain.as_str())),
            limit,
        )
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| process_cursor(&r.id, &r.chain)))
        .flatten();
    let processes = rows
        .into_iter()
        .map(|r| {
            let v: Value = serde_json::from_str(&r.json).unwrap_or(Value::Null);
            ProcessSummary {
                id: r.id,
                chain: r.chain,
                title: v.get("title").cloned().unwrap_or(Value::Null),
                scenario: v
                    .get("scenario")
                    .map(|s| s.get("id").cloned().unwrap_or_else(|| s.clone()))
                    .unwrap_or(Value::Null),
                state: v
                    .get("current")
                    .and_then(|c| c.get("key"))
                    .cloned()
                    .unwrap_or(Value::Null),
            }
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &ProcessList { processes, next },
    ))
}

/// Loads the projection of the process a caller addresses (see [`App::process_chain`]).
async fn readable_process(
    app: &App,
    id: &str,
    q: &ProcessQuery,
    caller: &Caller,
) -> Result<accord_store::ProcessRow, Problem> {
    let chain = app
        .process_chain(id, q.chain()?, &caller.key, NAME_A_CHAIN)
        .await?;
    app.store
        .process(&chain, id)
        .await?
        .ok_or_else(|| not_found("process", id))
}

/// A process's projection (canonical JSON).
///
/// A process is addressed by its chain and its id: `chain` names the chain; without it, the
/// one chain this key may read that holds a process with this id (several: a 409
/// `ambiguous-process` listing them).
#[utoipa::path(get, path = "/processes/{id}", tag = "processes",
    params(("id" = String, Path, description = "The process id"), ProcessQuery),
    responses((status = 200, description = "The projection", body = Value),
        (status = 400, description = "`chain` is not a chain id", body = Value, content_type = "application/problem+json"),
        (status = 404, description = "No such process this key may see", body = Value, content_type = "application/problem+json"),
        (status = 409, description = "Several chains this key may read hold a process with this id (`ambiguous-process`, with `chains`): name one with `chain`", body = Value, content_type = "application/problem+json")))]
async fn get_process(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<ProcessQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    let row = readable_process(&app, &id, &q, &signed.caller).await?;
    Ok(raw_json(StatusCode::OK, row.json))
}

/// What may happen next in a process: the state, the actions open to each actor, and the
/// expected path. Addressed as `GET /processes/{id}` is.
#[utoipa::path(get, path = "/processes/{id}/next", tag = "processes",
    params(("id" = String, Path, description = "The process id"), ProcessQuery),
    responses((status = 200, description = "Open actions by actor", body = Value),
        (status = 400, description = "`chain` is not a chain id", body = Value, content_type = "application/problem+json"),
        (status = 404, description = "No such process this key may see", body = Value, content_type = "application/problem+json"),
        (status = 409, description = "Several chains this key may read hold a process with this id (`ambiguous-process`, with `chains`): name one with `chain`", body = Value, content_type = "application/problem+json")))]
async fn get_next(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<ProcessQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    let row = readable_process(&app, &id, &q, &signed.caller).await?;
    let v: Value = serde_json::from_str(&row.json)
        .map_err(|e| Problem::internal(format!("stored projection of {id}: {e}")))?;
    let current = v.get("current").cloned().unwrap_or(Value::Null);
    let mut by_actor: Map<String, Value> = Map::new();
    for open in current
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let action = open.get("action").cloned().unwrap_or(Value::Null);
        for actor in open
            .get("actors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(actor) = actor.as_str() {
                let list = by_actor
                    .entry(actor.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(action.clone());
                }
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "id": id,
            "chain": row.chain,
            "state": current.get("key").cloned().unwrap_or(Value::Null),
            "finished": v.get("current").and_then(|c| c.get("key")).and_then(Value::as_str).is_some_and(|k| k.starts_with(':')),
            "actions": by_actor,
            "next": v.get("next").cloned().unwrap_or(Value::Null),
        }),
    ))
}

/// Respond to an action: a partial chain holding the response event, signed by its actor; or
/// `{"key", "action", "response", "data", "chain"}` for a custodial key this node holds, which
/// the node builds on the chain's tip and signs (the caller must be one of that key's
/// controllers or an administrator).
///
/// A process is addressed by its chain and its id. A chain body names its chain (its `id`),
/// which decides; a custodial response names it with `chain` (in the body or the query), or
/// goes to the one chain the custodial key may read that holds a process with this id
/// (several: a 409 `ambiguous-process` listing them).
///
/// The same pipeline as `POST /event-chains`, restricted to the process's chain; when the
/// process refuses the response the answer is a 422 problem naming the reason and the error
/// event this node added.
#[utoipa::path(post, path = "/processes/{id}/responses", tag = "processes",
    params(("id" = String, Path, description = "The process id"), ProcessQuery),
    request_body(content = Value, description = "A partial chain with the response event, or a response for a custodial key", content_type = "application/json"),
    responses((status = 200, description = "Applied", body = Outcome),
        (status = 400, description = "Malformed JSON, or `chain` naming another chain than the body", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not act for the custodial key", body = Value, content_type = "application/problem+json"),
        (status = 404, description = "No such process this key may see (on the chain named)", body = Value, content_type = "application/problem+json"),
        (status = 409, description = "The partial chain does not extend the tip; or, for a custodial response without `chain`, several chains hold a process with this id (`ambiguous-process`)", body = Value, content_type = "application/problem+json"),
        (status = 422, description = "The process refused the response", body = Value, content_type = "application/problem+json")))]
async fn post_response(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<ProcessQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    let named = q.chain()?;
    // The shape decides: a chain has `events`; a custodial response has `action`.
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        id: Option<std::borrow::Cow<'a, str>>,
        events: Option<serde::de::IgnoredAny>,
        action: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape = parse_json(signed.peek())?;
    let outcome = if shape.events.is_none() && shape.action.is_some() {
        custodial_response(&app, &id, named, &signed).await?
    } else {
        // A chain names its chain: that decides, and `?chain=` may only agree with it.
        let Some(chain) = shape.id.as_deref().filter(|c| !c.is_empty()) else {
            return Err(Problem::invalid(format!(
                "a response to process {id} is a chain (`id`, `events`) or a response for a custodial key (`key`, `action`); this body has neither `id` nor `action`"
            )));
        };
        if let Some(named) = named.filter(|n| *n != chain) {
            return Err(Problem::invalid(format!(
                "`chain` names chain {named}, but the body is a chain {chain}"
            ))
            .with("parameter", "chain"));
        }
        app.process_chain(&id, Some(chain), &signed.caller.key, NAME_A_CHAIN)
            .await?;
        crate::sync::receive(&app, &signed.caller, signed.submission(), true).await?
    };
    if let Some(first) = outcome.refused.first() {
        return Err(Problem::refused(first.reason.clone())
            .with(
                "refused",
                serde_json::to_value(&outcome.refused).unwrap_or(Value::Null),
            )
            .with(
                "errorEvent",
                outcome.error_event.clone().map_or(Value::Null, Value::from),
            ));
    }
    Ok(json_response(StatusCode::OK, &outcome))
}

/// A response for a custodial key: checked, then built and signed by the pipeline's writer on
/// the chain's tip. `named`: the chain the query names.
async fn custodial_response(
    app: &App,
    process: &str,
    named: Option<&str>,
    signed: &Signed,
) -> Result<Outcome, Problem> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Act {
        key: String,
        action: String,
        response: Option<String>,
        #[serde(default)]
        data: Value,
        chain: Option<String>,
    }
    let act: Act = serde_json::from_slice(signed.peek()).map_err(|e| {
        Problem::invalid(format!(
            "a response for a custodial key is {{\"key\", \"action\", \"response\", \"data\", \"chain\"}} (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
        .with("line", e.line())
        .with("column", e.column())
    })?;
    if let Some(chain) = act.chain.as_deref() {
        chain_id_in(chain, "the body's `chain`")?;
    }
    let chain = match (named, act.chain.as_deref()) {
        (Some(q), Some(b)) if q != b => {
            return Err(Problem::invalid(format!(
                "`chain` names chain {q} in the query and chain {b} in the body"
            ))
            .with("parameter", "chain"));
        }
        (q, b) => q.or(b),
    };
    let caller = &signed.caller.key;
    let held = app.custody.get(&act.key);
    let Some((pair, entry)) = held
        .filter(|(_, entry)| app.is_admin(caller) || entry.controllers.iter().any(|c| c == caller))
    else {
        // The same answer whether or not the node holds the key.
        return Err(Problem::forbidden(format!(
            "key {caller} may not act for key {}: it is not a controller of a custodial key this node holds",
            act.key
        )));
    };
    // Addressed as the custodial key sees it: the chains it may read (a controller reads
    // what its custodial keys read, so naming them tells the caller nothing new).
    let chain = app
        .process_chain(
            process,
            chain,
            &entry.key,
            "name one with `\"chain\"` in the body (or `?chain=<chain id>`)",
        )
        .await?;
    let body = {
        let mut b = crate::events::response(&act.action, act.response.as_deref(), act.data);
        b["process"] = Value::from(process);
        b
    };
    let chain_id: accord_chain::ChainId = chain
        .parse()
        .map_err(|e| Problem::internal(format!("stored chain id {chain}: {e}")))?;
    // The node signs an event for this request: carried out once, even across restarts.
    signed.spend(app).await?;
    app.pipeline
        .queue(
            crate::pipeline::Work::Build {
                chain: chain_id,
                body,
                key: pair,
            },
            caller.clone(),
            Origin::Local,
        )
        .await
        .map_err(Problem::from)
}

// ---------------------------------------------------------------------------------------------
// Invitations

/// Accept an invitation for the signing key (registered on this node): this node fetches the
/// chain from the inviting node with the invitation's one-time key, and sends it the identity
/// again with the signing key as `user`, this node's key as `system` and this node as `node`,
/// signed with the one-time key, which it replaces. The inviting node then delivers the chain
/// here; the answer says whether it has arrived (within 10 s).
#[utoipa::path(post, path = "/invitations", tag = "invitations",
    request_body(content = crate::invitations::Acceptance, description = "The invitation", content_type = "application/json"),
    responses((status = 201, description = "Accepted", body = crate::invitations::Accepted),
        (status = 400, description = "Malformed JSON, a bad key or chain id, or a node that is not a peer", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "The signing key is not registered on this node", body = Value, content_type = "application/problem+json"),
        (status = 422, description = "The inviting node refused: the invitation is used, or for another chain", body = Value, content_type = "application/problem+json"),
        (status = 502, description = "The inviting node could not be reached or failed", body = Value, content_type = "application/problem+json")))]
async fn post_invitation(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
    let caller = &signed.caller.key;
    if !app.is_registered(caller).await? {
        return Err(Problem::forbidden(format!(
            "key {caller} may not accept invitations on this node: register an identity with this key first (POST /identities)"
        )));
    }
    let acceptance: crate::invitations::Acceptance = parse_json(signed.peek())?;
    signed.spend(&app).await?;
    let accepted = crate::invitations::accept(&app, &signed.caller.key, acceptance).await?;
    Ok(json_response(StatusCode::CREATED, &accepted))
}

// ---------------------------------------------------------------------------------------------
// Custody

/// A custodial key to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustody {
    /// Keys (base58) allowed to act with it, besides the node's administrators.
    #[serde(default)]
    pub controllers: Vec<String>,
}

/// The custodial keys this node holds.
#[derive(Serialize, ToSchema)]
pub struct CustodyList {
    /// Every key, oldest first.
    pub keys: Vec<crate::custody::Entry>,
}

/// Create a key this node holds for a user (administrators only). The key is derived from the
/// node's seed phrase; register an identity with it (`POST /identities`) to bind it to actors.
#[utoipa::path(post, path = "/custody", tag = "custody",
    request_body(content = NewCustody, description = "Who may act with the key", content_type = "application/json"),
    responses((status = 201, description = "Created", body = crate::custody::Entry),
        (status = 400, description = "Malformed JSON or a bad controller key", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Value, content_type = "application/problem+json")))]
async fn post_custody(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
    app.admin_only(&signed.caller.key)?;
    let body = signed.peek();
    let new: NewCustody = if body.iter().all(u8::is_ascii_whitespace) {
        NewCustody {
            controllers: Vec::new(),
        }
    } else {
        parse_json(body)?
    };
    signed.spend(&app).await?;
    let entry = app.custody.create(new.controllers, app.clock.now_ms())?;
    tracing::info!(key = %entry.key, by = %signed.caller.key, "created a custodial key");
    Ok(json_response(StatusCode::CREATED, &entry))
}

/// The keys this node holds for users (administrators only).
#[utoipa::path(get, path = "/custody", tag = "custody",
    responses((status = 200, description = "The keys", body = CustodyList),
        (status = 403, description = "Not an administrator", body = Value, content_type = "application/problem+json")))]
async fn list_custody(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
    app.admin_only(&signed.caller.key)?;
    Ok(json_response(
        StatusCode::OK,
        &CustodyList {
            keys: app.custody.entries(),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// The outbox

/// A listing of the outbox.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Only rows in this state: `pending`, `done` or `dead`.
    pub state: Option<String>,
    /// Rows with ids above this one.
    pub after: Option<i64>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<u32>,
}

/// What one peer node should receive of one chain.
#[derive(Serialize, ToSchema)]
pub struct OutboxRow {
    /// The row's id (for `POST /outbox/{id}/replay`).
    pub id: i64,
    /// The peer node's key (or the `node` an identity named, when no peer has it).
    pub peer: String,
    /// The chain.
    pub chain: String,
    /// The length the peer should reach.
    pub wanted: u64,
    /// The length the peer confirmed.
    pub sent: u64,
    /// `pending`, `done` or `dead`.
    pub state: String,
    /// Failed attempts since the last that got through.
    pub attempts: u32,
    /// When it is next tried (milliseconds since the epoch).
    pub due_at: u64,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// A page of the outbox.
#[derive(Serialize, ToSchema)]
pub struct OutboxList {
    /// The rows, by id.
    pub rows: Vec<OutboxRow>,
    /// The `after` for the next page, when there may be one.
    pub next: Option<i64>,
}

/// What this node owes its peers: one row per peer node and chain (administrators only).
#[utoipa::path(get, path = "/outbox", tag = "node", params(OutboxQuery),
    responses((status = 200, description = "A page of rows", body = OutboxList),
        (status = 400, description = "An unknown state", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Value, content_type = "application/problem+json")))]
async fn list_outbox(
    State(app): Shared,
    Query(q): Query<OutboxQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    app.admin_only(&signed.caller.key)?;
    let state = match q.state.as_deref().map(str::parse::<accord_store::RowState>) {
        Some(Err(unknown)) => {
            return Err(Problem::invalid(format!(
                "state must be pending, done or dead, not {:?}",
                unknown.name
            ))
            .with("parameter", "state"));
        }
        Some(Ok(state)) => Some(state),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, accord_store::MAX_PAGE);
    let rows = app.store.outbox(state, q.after.unwrap_or(0), limit).await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rows = rows
        .into_iter()
        .map(|d| OutboxRow {
            id: d.id,
            peer: d.peer,
            chain: d.chain,
            wanted: d.wanted,
            sent: d.sent,
            state: d.state.to_string(),
            attempts: d.attempts,
            due_at: d.due_at,
            error: d.error,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &OutboxList { rows, next }))
}

/// Try a dead delivery again, from where the peer last confirmed (administrators only).
#[utoipa::path(post, path = "/outbox/{id}/replay", tag = "node",
    params(("id" = i64, Path, description = "The row's id")),
    responses((status = 202, description = "Queued", body = Value),
        (status = 403, description = "Not an administrator", body = Value, content_type = "application/problem+json"),
        (status = 404, description = "No dead row with this id", body = Value, content_type = "application/problem+json")))]
async fn replay_outbox(
    State(app): Shared,
    Path(id): Path<i64>,
    signed: Signed,
) -> Result<Response, Problem> {
    app.admin_only(&signed.caller.key)?;
    signed.spend(&app).await?;
    if !app.store.replay_delivery(id, app.clock.now_ms()).await? {
        return Err(Problem::not_found(format!(
            "there is no dead outbox row {id}"
        )));
    }
    tracing::info!(id, by = %signed.caller.key, "outbox row replayed");
    app.outbox.notify_one();
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"id": id, "state": "pending"}),
    ))
}

// ---------------------------------------------------------------------------------------------
// Identities

/// `Ok` when `key` may register or remove another identity now (administrators always may);
/// 429 when it has used its `identities.register_per_minute`.
fn registration_allowed(app: &App, key: &str) -> Result<(), Problem> {
    if app.is_admin(key) {
        return Ok(());
    }
    app.registrations
        .check(key, Instant::now())
        .map_err(|wait| {
            app.metrics.requests_limited.fetch_add(1, Ordering::Relaxed);
            Problem::rate_limited(wait).with_detail_suffix(&format!(
                " (identities.register_per_minute: key {key} may register or remove {} identities a minute)",
                app.config.identities.register_per_minute
            ))
        })
}

/// Register an identity on this node (`{"id", "signkeys": {"user": key, …}, …}`, the Live
/// Contracts identity document).
///
/// Every key the identity names must sign the request: the caller, and the others as
/// cosigners (further RFC 9421 signatures, `sig2`, …, over the same request). The one exception
/// is this node's own key as the `system` key, which asks this node to run the identity's
/// system actions (which it does only as its `system.accept` says). The caller must be one of
/// the identity's keys; to replace a registered identity, one of the keys it names now. An id
/// that is an LTO address must be the address of a key the identity names. Administrators may
/// register any identity, for anyone, without these checks and quotas (but with the address
/// rule), and what they register is enrolled: this node runs its system actions by default.
#[utoipa::path(post, path = "/identities", tag = "identities",
    request_body(content = Value, description = "An identity", content_type = "application/json"),
    responses((status = 201, description = "Registered", body = Value),
        (status = 200, description = "Replaced", body = Value),
        (status = 400, description = "Not an identity", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "A key the identity names did not sign the request, the signer holds no key of the identity (or of the one it replaces), or this node takes registrations only from administrators", body = Value, content_type = "application/problem+json"),
        (status = 413, description = "The document is over `identities.max_bytes` (`body-too-large`)", body = Value, content_type = "application/problem+json"),
        (status = 422, description = "A key would be named by more than `identities.max_per_key` registered identities, or the node holds `identities.max_self_registered` identities users registered for themselves (`quota-exceeded`); the id is an LTO address of no key the identity names (`address-id`)", body = Value, content_type = "application/problem+json"),
        (status = 429, description = "The signer registered or removed too many identities this minute, or the node took `identities.self_register_per_minute` new ones from its users (`rate-limited`, with `Retry-After`)", body = Value, content_type = "application/problem+json")))]
async fn post_identity(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
    let caller = signed.caller.key.as_str();
    let admin = app.is_admin(caller);
    let limits = &app.config.identities;
    if !admin && !limits.self_register {
        return Err(Problem::forbidden(format!(
            "this node registers identities only for its administrators (identities.self_register is false), and key {caller} is not one"
        )));
    }
    registration_allowed(&app, caller)?;
    let bytes = signed.peek();
    if bytes.len() > limits.max_bytes {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "The body is too large",
            format!(
                "the identity document is {} bytes; this node takes identities of at most {} bytes (identities.max_bytes)",
                bytes.len(),
                limits.max_bytes
            ),
        )
        .with("size", bytes.len())
        .with("limit", limits.max_bytes));
    }
    let body: Value = parse_json(bytes)?;
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Problem::invalid("`id` must be a non-empty string"))?
        .to_string();
    let keys = identity_keys(&body)?;
    if keys.is_empty() {
        return Err(Problem::invalid(
            "`signkeys` must hold at least one base58 ed25519 key",
        ));
    }
    // An address id names a key that consented: for a user, not this node's key as `system`
    // (which needs no signature).
    let consenting: Vec<&str> = keys
        .iter()
        .filter(|(role, key)| admin || !(role == "system" && *key == app.node_key))
        .map(|(_, key)| key.as_str())
        .collect();
    address_id_names_its_key(&id, &consenting)?;
    if !admin {
        // Naming a key is speaking for it: the node's registry and chain starts trust it. So
        // each key named signs the request, except this node's key as the system key (this
        // node decides for itself whether it acts for the identity: `system.accept`).
        let signers: HashSet<&str> = std::iter::once(caller)
            .chain(signed.caller.cosigners.iter().map(String::as_str))
            .collect();
        let unconsented: Vec<&(String, String)> = keys
            .iter()
            .filter(|(role, key)| {
                let consented =
                    signers.contains(key.as_str()) || (role == "system" && *key == app.node_key);
                !consented
            })
            .collect();
        if !unconsented.is_empty() {
            let named: Vec<String> = unconsented
                .iter()
                .map(|(role, key)| format!("signkeys.{role} ({key})"))
                .collect();
            return Err(Problem::forbidden(format!(
                "identity {id} names keys that did not sign this request: {}; every key an identity names must sign its registration (the caller, or a cosigner: a further RFC 9421 signature over the same request)",
                named.join(", ")
            ))
            .with(
                "unconsented",
                unconsented
                    .iter()
                    .map(|(role, key)| json!({"role": role, "key": key}))
                    .collect::<Vec<_>>(),
            ));
        }
    }
    // From here to the write, no other registration or removal runs on this node.
    let _writing = app.identity_writes.lock().await;
    let took_a_token = if !admin {
        // Whether this makes one more identity users registered for themselves: a new one, or
        // one an administrator enrolled that a user replaces (it is self-registered after).
        let self_registers = match app.store.identity(&id).await? {
            Some(old) => {
                let old: Value = serde_json::from_str(&old).unwrap_or(Value::Null);
                if !key_set(&old).contains(caller) {
                    return Err(Problem::forbidden(format!(
                        "identity {id} is registered already, and key {caller} is not one of its keys: only one of them, or an administrator, may replace it"
                    )));
                }
                app.store
                    .enrolled_identities_of_key(caller)
                    .await?
                    .contains(&id)
            }
            None if !keys.iter().any(|(_, key)| key == caller) => {
                return Err(Problem::forbidden(format!(
                    "key {caller} is not one of identity {id}'s keys: a key registers identities that name it"
                )));
            }
            None => true,
        };
        let mut counted: HashSet<&str> = HashSet::new();
        for (role, key) in &keys {
            if app.is_admin(key) || !counted.insert(key.as_str()) {
                continue;
            }
            let others = app
                .store
                .identities_of_key(key)
                .await?
                .into_iter()
                .filter(|other| *other != id)
                .count();
            if others >= limits.max_per_key as usize {
                return Err(Problem::quota_exceeded(format!(
                    "key {key} (signkeys.{role}) is named by {others} registered identities already; this node allows at most {} per key (identities.max_per_key)",
                    limits.max_per_key
                ))
                .with("key", key.clone())
                .with("limit", limits.max_per_key));
            }
        }
        // Last, so a registration refused above takes none of the node's tokens.
        if self_registers {
            self_registration_allowed(&app).await?;
        }
        self_registers
    } else {
        false
    };
    // A replayed registration after the identity was removed would bring it back. A replay
    // gives back the node-wide token it took.
    if let Err(replayed) = signed.spend(&app).await {
        if took_a_token {
            app.self_registrations.refund("");
        }
        return Err(replayed);
    }
    let created = app
        .store
        .put_identity(
            &id,
            &body.to_string(),
            &keys
                .into_iter()
                .map(|(_, key)| key)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
            accord_store::Enrolment::by_administrator(admin),
            app.clock.now_ms(),
        )
        .await?;
    tracing::info!(identity = %id, by = %caller, created, "registered an identity");
    Ok(json_response(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &body,
    ))
}

/// `Ok` unless `id` reads as an LTO address that is not the address of one of `keys` (the
/// keys that consented to the registration): an address names its key, and tools (the CLI
/// among them) register a user under its key's address, so no one else may take it.
fn address_id_names_its_key(id: &str, keys: &[&str]) -> Result<(), Problem> {
    let Ok(address) = id.parse::<accord_crypto::Address>() else {
        return Ok(());
    };
    let named = keys.iter().any(|key| {
        accord_crypto::PublicKey::from_base58(accord_crypto::KeyType::Ed25519, key)
            .is_ok_and(|k| address.is_of(&k))
    });
    if named {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "address-id",
        "An address belongs to its key",
        format!(
            "identity id {id} is an LTO address, but not the address of a key the identity names and that signed its registration: an identity with an address for its id must name that address's key in `signkeys`"
        ),
    )
    .with("id", id))
}

/// `Ok` when a user may register one more identity for itself on this node: the node holds
/// fewer than `identities.max_self_registered` of them (422 `quota-exceeded`), and the
/// node-wide `identities.self_register_per_minute` has a token left (429). Keys cost nothing,
/// so the quotas per key alone would not bound the registry. Called under `identity_writes`.
async fn self_registration_allowed(app: &App) -> Result<(), Problem> {
    let limits = &app.config.identities;
    let held = app
        .store
        .count_identities(accord_store::Enrolment::SelfRegistered)
        .await?;
    if held >= limits.max_self_registered {
        return Err(Problem::quota_exceeded(format!(
            "this node holds {held} identities users registered for themselves, its limit (identities.max_self_registered): ask its operator to register yours"
        ))
        .with("limit", limits.max_self_registered));
    }
    app.self_registrations
        .check("", Instant::now())
        .map_err(|wait| {
            app.metrics.requests_limited.fetch_add(1, Ordering::Relaxed);
            Problem::limited(
                wait,
                format!(
                    "this node takes {} new identities a minute from its users, all keys together (identities.self_register_per_minute); retry in {wait} s",
                    limits.self_register_per_minute
                ),
            )
        })
}

/// The sign keys of an identity document, as (role, base58 key) in the document's order, each
/// checked.
fn identity_keys(body: &Value) -> Result<Vec<(String, String)>, Problem> {
    // The process takes a null key as no key; an identity registered here names only keys.
    if let Some(Value::Object(m)) = body.get("signkeys")
        && let Some((role, _)) = m.iter().find(|(_, key)| key.is_null())
    {
        return Err(Problem::invalid(format!(
            "`signkeys.{role}` must be a base58 public key"
        )));
    }
    let keys = accord_engine::process::Identity::signkeys_of(body).map_err(Problem::invalid)?;
    if let Some((role, key)) = keys
        .iter()
        .find(|(_, key)| base58::decode(key).ok().is_none_or(|k| k.len() != 32))
    {
        return Err(Problem::invalid(format!(
            "`signkeys.{role}` is not a base58 ed25519 public key: {key:?}"
        )));
    }
    Ok(keys)
}

/// The keys a stored identity names (none, for a document that does not read as one).
fn key_set(stored: &Value) -> HashSet<String> {
    identity_keys(stored)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, key)| key)
        .collect()
}

/// A registered identity (its stored JSON) for a key that may see it: one it names, this
/// node's key or an administrator. Anyone else is answered as for an identity that does not
/// exist.
async fn visible_identity(app: &App, id: &str, caller: &str) -> Result<String, Problem> {
    let missing = || Problem::not_found(format!("no identity {id} that this key may see"));
    let json = app.store.identity(id).await?.ok_or_else(missing)?;
    if !app.is_admin(caller)
        && !key_set(&serde_json::from_str(&json).unwrap_or(Value::Null)).contains(caller)
    {
        return Err(missing());
    }
    Ok(json)
}

/// An identity registered on this node, for a key it names, this node's key and
/// administrators (anyone else gets the 404 of a missing identity).
#[utoipa::path(get, path = "/identities/{id}", tag = "identities",
    params(("id" = String, Path, description = "The identity id")),
    responses((status = 200, description = "The identity", body = Value),
        (status = 404, description = "No such identity this key may see", body = Value, content_type = "application/problem+json")))]
async fn get_identity(
    State(app): Shared,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<Response, Problem> {
    let json = visible_identity(&app, &id, &signed.caller.key).await?;
    Ok(raw_json(StatusCode::OK, json))
}

/// Remove an identity from this node (by one of its keys, or an administrator). Only its own
/// keys leave the registry: a key another registered identity names stays registered.
#[utoipa::path(delete, path = "/identities/{id}", tag = "identities",
    params(("id" = String, Path, description = "The identity id")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such identity this key may see", body = Value, content_type = "application/problem+json"),
        (status = 429, description = "The signer registered or removed too many identities this minute (`rate-limited`, with `Retry-After`)", body = Value, content_type = "application/problem+json")))]
async fn delete_identity(
    State(app): Shared,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<Response, Problem> {
    let caller = signed.caller.key.as_str();
    registration_allowed(&app, caller)?;
    let _writing = app.identity_writes.lock().await;
    visible_identity(&app, &id, caller).await?;
    // A replayed delete after the identity was registered again would delete it again.
    signed.spend(&app).await?;
    app.store.delete_identity(&id).await?;
    tracing::info!(identity = %id, by = %caller, "removed an identity");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// The router and the document

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Accord node",
        description = "Event chains, scenarios, processes and identities of one Accord node. Requests are signed with HTTP Message Signatures (RFC 9421, ed25519; keyid = the base58 public key) or a draft-cavage `Signature`, for this node's authority (421 `misdirected-request` otherwise) and within `max_clock_skew` of its clock; a signature is good once (a request the node carried out that is not idempotent, sent again, is 401 `replayed`; chain submissions are idempotent by event hash). Errors are RFC 9457 problem documents."
    ),
    tags(
        (name = "event chains", description = "Chains of signed events and the event pipeline"),
        (name = "scenarios", description = "Scenarios stored on this node"),
        (name = "processes", description = "Projections of processes"),
        (name = "identities", description = "Identities registered on this node"),
        (name = "invitations", description = "Joining a process another organisation's node invited you to"),
        (name = "node", description = "Health and metrics")
    )
)]
struct ApiDoc;

/// Every route, with its description.
fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(post_event_chain, list_event_chains))
        .routes(routes!(get_event_chain))
        .routes(routes!(get_events))
        .routes(routes!(get_head))
        .routes(routes!(post_scenario))
        .routes(routes!(get_scenario))
        .routes(routes!(list_processes))
        .routes(routes!(get_process))
        .routes(routes!(get_next))
        .routes(routes!(post_response))
        .routes(routes!(post_identity))
        .routes(routes!(post_invitation))
        .routes(routes!(post_custody, list_custody))
        .routes(routes!(get_identity, delete_identity))
        .routes(routes!(list_outbox))
        .routes(routes!(replay_outbox))
}

/// Turns axum's own plain-text rejections (a bad query string or path parameter) into problem
/// documents, so every client error has the same shape.
async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    Problem::new(
        status,
        "invalid-request",
        "The request is not valid",
        String::from_utf8_lossy(&body).into_owned(),
    )
    .into_response()
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The router and the OpenAPI document, built from the same declarations.
pub fn router(app: Arc<App>) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, doc) = routes().with_state(app.clone()).split_for_parts();
    let text = doc.to_pretty_json().unwrap_or_default();
    let metrics = app.metrics.clone();
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { raw_json(StatusCode::OK, text) }),
        )
        .fallback(|| async { Problem::not_found("no such endpoint").into_response() })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this endpoint does not take that method",
            )
            .into_response()
        })
        .layer(axum::middleware::from_fn(check_spent))
        .layer(axum::middleware::map_response(move |response: Response| {
            let metrics = metrics.clone();
            async move {
                if response.status().is_client_error() {
                    metrics.requests_rejected.fetch_add(1, Ordering::Relaxed);
                }
                as_problem(response).await
            }
        }));
    (router, doc)
}
