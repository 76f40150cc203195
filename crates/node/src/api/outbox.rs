//! The outbox: what this node owes its peers, and replaying a dead row.

use super::*;

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
pub(super) async fn list_outbox(
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
pub(super) async fn replay_outbox(
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
