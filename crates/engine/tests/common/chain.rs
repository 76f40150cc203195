//! A chain replayed event by event (`Replay`), and the Live Contracts bodies the tests put on
//! it: the harness of the tests that play reviewers' reproducers as whole chains.

use accord_engine::{Applied, EventIn, Refusal, Replay, canonical};
use serde_json::{Value, json};

pub const V: &str = "https://specs.livecontracts.io/v0.2.0/";

pub struct R {
    pub r: Replay,
    pub n: u64,
}

impl R {
    pub fn new() -> R {
        R {
            r: Replay::new(Some("chain".into())),
            n: 0,
        }
    }
    pub fn apply(&mut self, signer: &str, body: Value) -> Applied {
        self.apply_at(signer, body, None)
    }
    pub fn apply_at(&mut self, signer: &str, body: Value, ts: Option<u64>) -> Applied {
        self.n += 1;
        let hash = format!("h{}", self.n);
        let ts = ts.unwrap_or(1_000 * self.n);
        self.r.apply(EventIn {
            hash: &hash,
            timestamp: ts,
            signer,
            body: &body,
        })
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.r.to_json().map(|j| canonical(&j)).unwrap_or_default()
    }
    pub fn ok(&mut self, signer: &str, body: Value) {
        let a = self.apply(signer, body);
        assert!(!matches!(a, Applied::Rejected(_)), "{a:?}");
    }
    /// Applies an event that must be refused, asserts the projection is byte-identical after,
    /// and returns the refusal.
    pub fn refused(&mut self, signer: &str, body: Value, ts: Option<u64>) -> Refusal {
        let before = self.bytes();
        let a = self.apply_at(signer, body, ts);
        let Applied::Rejected(why) = a else {
            panic!("expected a refusal: {a:?}");
        };
        let after = self.bytes();
        assert_eq!(
            String::from_utf8_lossy(&before),
            String::from_utf8_lossy(&after),
            "the refusal ({why}) changed the projection"
        );
        why
    }
    pub fn json(&self) -> Value {
        self.r.to_json().unwrap()
    }
}

pub fn scenario(mut s: Value) -> Value {
    s["$schema"] = json!(format!("{V}scenario/schema.json#"));
    s
}
pub fn identity(id: &str, key: &str) -> Value {
    json!({"$schema": format!("{V}identity/schema.json#"), "id": id, "signkeys": {"user": key}})
}
pub fn process(scenario: &str, actors: Value) -> Value {
    json!({"$schema": format!("{V}process/schema.json#"), "id": "p", "scenario": scenario, "actors": actors})
}
pub fn response(action: &str, data: Value) -> Value {
    json!({"$schema": format!("{V}response/schema.json#"), "action": action, "data": data})
}
