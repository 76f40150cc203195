//! Event chains: submitting (the pipeline, through `sync`), listing, reading, and waiting for a head.

use super::*;

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
pub(super) async fn post_event_chain(
    State(app): Shared,
    signed: Signed,
) -> Result<Response, Problem> {
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
pub(super) async fn get_head(
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
pub(super) async fn list_event_chains(
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
pub(super) async fn get_event_chain(
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
pub(super) async fn get_events(
    State(app): Shared,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    signed: Signed,
) -> Result<Response, Problem> {
    chain_page(&app, &id, &q, &signed.caller).await
}

pub(super) async fn chain_page(
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
