//! Keys this node holds for users.

use super::*;

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
pub(super) async fn post_custody(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
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
pub(super) async fn list_custody(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
    app.admin_only(&signed.caller.key)?;
    Ok(json_response(
        StatusCode::OK,
        &CustodyList {
            keys: app.custody.entries(),
        },
    ))
}
