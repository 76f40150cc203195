//! RFC 9457 problem details: how every endpoint says what went wrong.
//!
//! `type` is a stable URN per kind of problem (`urn:accord:problem:<kind>`) that clients can
//! match on; `detail` says what is wrong and where in words; extensions carry the particulars
//! (JSON pointers, line and column, hashes).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A problem to answer with.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The kind, the last part of `urn:accord:problem:<kind>`.
    pub kind: &'static str,
    /// A short summary of the kind.
    pub title: &'static str,
    /// What went wrong, for people.
    pub detail: String,
    /// Extension members (boxed: problems travel in `Result`s and should stay small).
    pub extra: Box<Map<String, Value>>,
}

impl Problem {
    /// A problem of a kind.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: Box::default(),
        }
    }

    /// The same problem with more said at the end of its detail.
    pub fn with_detail_suffix(mut self, more: &str) -> Problem {
        self.detail.push_str(more);
        self
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// The body as JSON.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "type": format!("urn:accord:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(m) = &mut body {
            for (k, v) in self.extra.iter() {
                m.insert(k.clone(), v.clone());
            }
        }
        body
    }

    /// 400: the body is not JSON, or not the JSON expected.
    pub fn bad_json(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "The body is not valid JSON",
            detail,
        )
    }

    /// 400: a well-formed request whose content is wrong.
    pub fn invalid(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is not valid",
            detail,
        )
    }

    /// 401: no signature, or one that does not verify.
    pub fn unauthenticated(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "The request is not signed, or its signature does not verify",
            detail,
        )
    }

    /// 401 `replayed`: a signature the request carries was used already (a signature is good
    /// once).
    pub fn replayed(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "replayed",
            "The signature was used already",
            detail,
        )
    }

    /// 421 `misdirected-request`: the request is signed for another authority than this
    /// node's.
    pub fn misdirected(signed_for: &str, authorities: &[String]) -> Problem {
        Problem::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected-request",
            "The request is addressed to another node",
            if authorities.is_empty() {
                format!(
                    "the request is signed for {signed_for}, but this node answers to no name (it has no listen address, `public_url` or `authorities`)"
                )
            } else {
                format!(
                    "the request is signed for {signed_for}, but this node answers only to {}: sign the request for the node it is sent to",
                    authorities.join(", ")
                )
            },
        )
        .with("authority", signed_for)
        .with("authorities", authorities.to_vec())
    }

    /// 403: the signer may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The signer may not do this",
            detail,
        )
    }

    /// 404: nothing there, or nothing the caller may see.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: the request conflicts with what the node holds.
    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            kind,
            "The request conflicts with what the node holds",
            detail,
        )
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "The body is too large",
            format!("the body is over this node's limit of {limit} bytes"),
        )
        .with("limit", limit)
    }

    /// 422: the events are valid, but the process refuses them.
    pub fn refused(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            "The process refused the event",
            detail,
        )
    }

    /// 429: too many requests from one key.
    pub fn rate_limited(retry_after: u64) -> Problem {
        Problem::limited(
            retry_after,
            format!("too many requests from this key; retry in {retry_after} s"),
        )
    }

    /// 429 with its own detail (a limit that is not the key's own), `Retry-After` from
    /// `retry_after`.
    pub fn limited(retry_after: u64, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            detail,
        )
        .with("retryAfter", retry_after)
    }

    /// 422 `quota-exceeded`: a quota of this node would be exceeded.
    pub fn quota_exceeded(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "quota-exceeded",
            "A quota of this node is exceeded",
            detail,
        )
    }

    /// 500/503: the node's fault, not the client's.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The node failed",
            detail,
        )
    }

    /// 503: the node is shutting down or its pipeline is gone.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The node cannot take requests now",
            detail,
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.kind,
            self.detail
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let retry = self
            .extra
            .get("retryAfter")
            .and_then(Value::as_u64)
            .map(|s| s.to_string());
        let mut response = (self.status, self.to_json().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(retry) = retry.and_then(|r| HeaderValue::from_str(&r).ok()) {
            headers.insert(header::RETRY_AFTER, retry);
        }
        response
    }
}

impl From<crate::pipeline::Refused> for Problem {
    fn from(refused: crate::pipeline::Refused) -> Problem {
        use crate::pipeline::Refused;
        use crate::sync::PeerProblem;
        use accord_chain::Placement;
        use accord_crypto::base58::encode;
        match refused {
            Refused::NotPlaced(not) => {
                let crate::pipeline::NotPlaced {
                    chain,
                    placement,
                    tip,
                    length,
                } = *not;
                match placement {
                Placement::Fork { theirs, after, .. } => Problem::conflict(
                    PeerProblem::Fork.kind(),
                    format!(
                        "event {} follows {}, but this node's chain {chain} continues differently after it (its tip is {})",
                        encode(&theirs),
                        encode(&after),
                        encode(&tip)
                    ),
                )
                .with("chain", chain)
                .with("event", encode(&theirs))
                .with("previous", encode(&after))
                .with("tip", encode(&tip)),
                Placement::MissingEvents { event, after } => Problem::conflict(
                    PeerProblem::MissingEvents.kind(),
                    match event {
                        Some(event) => format!(
                            "event {} follows {}, which this node does not hold: send the events after {} first",
                            encode(&event),
                            encode(&after),
                            encode(&tip)
                        ),
                        None => format!(
                            "the chain sent starts after {}, which this node does not hold: send the events after {} first",
                            encode(&after),
                            encode(&tip)
                        ),
                    },
                )
                .with("chain", chain)
                .with("tip", encode(&tip))
                .with("length", length),
                Placement::UnknownChain | Placement::Extends { .. } | Placement::Duplicate => {
                    Problem::conflict(
                        PeerProblem::UnknownChain.kind(),
                        format!(
                            "this node does not hold chain {chain}: send it from its genesis event"
                        ),
                    )
                    .with("chain", chain)
                }
                }
            }
            Refused::NotHeld { chain } => Problem::conflict(
                PeerProblem::UnknownChain.kind(),
                format!("this node does not hold chain {chain}"),
            )
            .with("chain", chain),
            Refused::ProcessExists { chain, process } => Problem::conflict(
                "process-exists",
                format!(
                    "this node holds a process {process} on another chain already, so nothing of chain {chain} was stored: start the process under another id"
                ),
            )
            .with("process", process)
            .with("chain", chain),
            Refused::NoIdentity {
                chain,
                signer,
                event,
            } => {
                let what = event
                    .as_ref()
                    .map_or_else(|| "the event".to_string(), |hash| format!("event {hash}"));
                let problem = Problem::forbidden(format!(
                    "{what} is signed by key {signer}, which holds no identity on chain {chain} (it was replaced, spent as an invitation key, or never named): nothing was stored"
                ))
                .with("chain", chain)
                .with("signer", signer);
                match event {
                    Some(hash) => problem.with("event", hash),
                    None => problem,
                }
            }
            Refused::Timestamp {
                chain,
                event,
                nth,
                timestamp,
                why,
                receipt,
                now,
            } => {
                let detail = format!(
                    "event {event} (new event {nth} of the submission) cannot be placed on chain {chain}: {why}"
                );
                let problem = if why.is_early(receipt) {
                    // Not wrong, only early: the sender tries again once this clock is there.
                    let wait = why.taken_from().unwrap_or(now).saturating_sub(now);
                    Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        PeerProblem::TooEarly.kind(),
                        "An event is stamped ahead of this node's clock",
                        detail,
                    )
                    .with("retryAfter", wait.div_ceil(1000).max(1))
                } else {
                    Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-timestamp",
                        "An event's timestamp cannot be believed",
                        detail,
                    )
                };
                problem
                    .with("chain", chain)
                    .with("event", event)
                    .with("timestamp", timestamp)
            }
            Refused::Failed(problem) => problem,
        }
    }
}

/// A conflict is the client's (409 `conflict`, saying what the write ran into); any other
/// failure of the store is the node's (500 `internal`, naming the operation that failed).
impl From<accord_store::StoreError> for Problem {
    fn from(err: accord_store::StoreError) -> Problem {
        match err {
            accord_store::StoreError::Conflict { conflict, .. } => {
                Problem::conflict("conflict", conflict.to_string())
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                Problem::internal(format!("storage failed: {other}"))
            }
        }
    }
}

/// Parses a JSON body (into any shape that reads from JSON), naming the line and column of
/// what is wrong.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::bad_json(format!("line {}, column {}: {e}", e.line(), e.column()))
            .with("line", e.line())
            .with("column", e.column())
    })
}

#[cfg(test)]
mod tests {
    use accord_store::{Conflict, Op, StoreError};

    use super::*;

    /// A conflict is the client's, with what the write ran into; any other failure of the
    /// store is the node's, naming the operation and the database's own words.
    #[test]
    fn store_errors_keep_their_status_and_kind() {
        let conflict = Problem::from(StoreError::Conflict {
            op: Box::new(Op::PutScenario { id: "s1".into() }),
            conflict: Conflict::ScenarioDiffers { id: "s1".into() },
        });
        assert_eq!(
            (conflict.status, conflict.kind, conflict.detail.as_str()),
            (
                StatusCode::CONFLICT,
                "conflict",
                "a different scenario with id \"s1\" is stored already"
            )
        );
        let failed = Problem::from(StoreError::Database {
            op: Box::new(Op::Head { chain: "c1".into() }),
            source: Box::new(std::io::Error::other("disk I/O error")),
        });
        assert_eq!(
            (failed.status, failed.kind, failed.detail.as_str()),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "storage failed: reading the head of chain c1: disk I/O error"
            )
        );
        let corrupt = Problem::from(StoreError::Corrupt {
            op: Box::new(Op::WorkOf { chain: "c1".into() }),
            column: "work.kind",
            value: "\"deliver\"".into(),
            expected: "a work kind",
        });
        assert_eq!(
            (corrupt.status, corrupt.kind),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
    }
}
