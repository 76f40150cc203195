//! The HTTP API. Every route is declared once, with its OpenAPI description, and the router
//! and `/openapi.json` are both built from those declarations (`utoipa-axum`), so they cannot
//! drift apart. One module per resource (`chains`, `scenarios`, `processes`, `identities`,
//! `invitations`, `custody`, `outbox`, `node`); this one holds what they share: the signed-request
//! extractor, the answers' shapes, the router and the document.
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

mod chains;
mod custody;
mod identities;
mod invitations;
mod node;
mod outbox;
mod processes;
mod scenarios;

use chains::*;
use custody::*;
use identities::*;
use invitations::*;
use node::*;
use outbox::*;
use processes::*;
use scenarios::*;

pub use chains::MAX_HEAD_WAIT_MS;

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
