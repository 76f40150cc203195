//! Identities registered on this node.

use super::*;

/// `Ok` when `key` may register or remove another identity now (administrators always may);
/// 429 when it has used its `identities.register_per_minute`.
pub(super) fn registration_allowed(app: &App, key: &str) -> Result<(), Problem> {
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
pub(super) async fn post_identity(State(app): Shared, signed: Signed) -> Result<Response, Problem> {
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
pub(super) fn address_id_names_its_key(id: &str, keys: &[&str]) -> Result<(), Problem> {
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
pub(super) async fn self_registration_allowed(app: &App) -> Result<(), Problem> {
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
pub(super) fn identity_keys(body: &Value) -> Result<Vec<(String, String)>, Problem> {
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
pub(super) fn key_set(stored: &Value) -> HashSet<String> {
    identity_keys(stored)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, key)| key)
        .collect()
}

/// A registered identity (its stored JSON) for a key that may see it: one it names, this
/// node's key or an administrator. Anyone else is answered as for an identity that does not
/// exist.
pub(super) async fn visible_identity(app: &App, id: &str, caller: &str) -> Result<String, Problem> {
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
pub(super) async fn get_identity(
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
pub(super) async fn delete_identity(
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
