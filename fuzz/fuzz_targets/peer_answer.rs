//! What nodes read from each other and from their own queues besides chains: a peer's refusal
//! (`accord-node`'s `sync/answer.rs`, included from its source) and a queued request (the
//! engine's `Request`, as a node stores it). Any bytes read to a value or to nothing, never a
//! panic; whatever reads writes back to JSON that reads to the same value.
#![no_main]

#[path = "../../crates/node/src/sync/answer.rs"]
#[allow(dead_code)]
mod answer;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(read) = answer::PeerAnswer::read(data) {
        let text = serde_json::to_vec(&read).expect("an answer writes");
        assert_eq!(
            answer::PeerAnswer::read(&text).as_ref(),
            Some(&read),
            "a peer answer does not read back as itself"
        );
    }
    if let Ok(request) = serde_json::from_slice::<accord_engine::Request>(data) {
        let text = serde_json::to_vec(&request).expect("a request writes");
        let again: accord_engine::Request =
            serde_json::from_slice(&text).expect("a written request reads");
        assert_eq!(again, request, "a request does not read back as itself");
    }
});
