//! The binary form of a v2 event (`Event::from_binary`): never panics; an event that reads
//! writes back to exactly the same bytes.
#![no_main]

use accord_chain::{Event, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_binary(Version::V2, data) else {
        return;
    };
    let binary = event
        .to_binary(Version::V2)
        .unwrap_or_else(|err| panic!("a read event does not encode: {err}\n{event:?}"));
    assert_eq!(
        binary, data,
        "binary round trip changed the bytes\n{event:?}"
    );
});
