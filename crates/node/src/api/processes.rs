//! Processes: their projections, what comes next, and responses signed by a node's custodial key.

use super::*;

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
pub(super) fn process_cursor(id: &str, chain: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{chain}:{id}"))
}

/// Reads a cursor [`process_cursor`] made: (process id, chain id).
pub(super) fn read_process_cursor(after: &str) -> Result<(String, String), Problem> {
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
pub(super) async fn list_processes(
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
pub(super) async fn readable_process(
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
pub(super) async fn get_process(
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
pub(super) async fn get_next(
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
pub(super) async fn post_response(
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
pub(super) async fn custodial_response(
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
