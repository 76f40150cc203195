//! Health, readiness and metrics.

use super::*;

/// The node is up.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, description = "The process is running", body = Value)))]
pub(super) async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// The node can take requests: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "node", responses(
    (status = 200, description = "Ready", body = Value),
    (status = 503, description = "The database does not answer", body = Value)))]
pub(super) async fn readyz(State(app): Shared) -> Response {
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
pub(super) async fn metrics(State(app): Shared) -> Response {
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
