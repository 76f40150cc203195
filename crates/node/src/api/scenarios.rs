//! Scenarios stored on this node.

use super::*;

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

pub(super) fn diagnostic_json(d: &accord_scenario::Diagnostic) -> Value {
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
pub(super) async fn post_scenario(State(app): Shared, req: Request) -> Result<Response, Problem> {
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
pub(super) async fn get_scenario(
    State(app): Shared,
    Path(id): Path<String>,
    _signed: Signed,
) -> Result<Response, Problem> {
    match app.store.scenario(&id).await? {
        Some(json) => Ok(raw_json(StatusCode::OK, json)),
        None => Err(Problem::not_found(format!("no scenario {id}"))),
    }
}
