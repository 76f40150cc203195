//! Building the events a client sends, signed and linked, as whole chains or as partial chains
//! on a known tip. Their bodies (identities, the scenario, the process start, responses) are
//! `accord_engine::bodies`, beside the replay that reads them; re-exported here.

use accord_chain::{Chain, ChainId, Draft, Event, Nonce, PartialStart, VerifiedChain, Version};
use accord_crypto::KeyPair;
use serde_json::Value;

pub use accord_engine::bodies::{LC, identity, identity_at, process, response, scenario};

/// A new chain created by `creator` (who signs the first event), holding `bodies` in order,
/// each signed by its key, timestamps from `timestamp` on (one millisecond apart).
pub fn new_chain(
    creator: &KeyPair,
    network: u8,
    nonce: &Nonce,
    bodies: &[(&Value, &KeyPair)],
    timestamp: u64,
) -> Result<VerifiedChain, String> {
    let id = ChainId::new(Version::V2, network, creator.public_key(), nonce);
    let mut chain = VerifiedChain::new(id);
    for (n, (body, key)) in bodies.iter().enumerate() {
        chain
            .sign_and_append(Draft::json(body), key, timestamp + n as u64)
            .map_err(|e| format!("event {n}: {e}"))?;
    }
    Ok(chain)
}

/// A partial chain with one new event on a known tip (`hash`, `state`).
pub fn next_event(
    chain: &ChainId,
    tip: [u8; 32],
    state: [u8; 32],
    body: &Value,
    key: &KeyPair,
    timestamp: u64,
) -> Result<Chain, String> {
    let (event, _) = Event::signed_on(Draft::json(body), tip, timestamp, chain.version(), key)
        .map_err(|e| format!("cannot sign the event: {e}"))?;
    Ok(Chain {
        id: *chain,
        start: Some(PartialStart { hash: tip, state }),
        events: vec![event],
    })
}
