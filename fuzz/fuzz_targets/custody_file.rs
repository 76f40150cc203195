//! `custody.json` (`accord-node`'s `custody::file`, included from source): any bytes read to
//! entries whose keys derive from the seed, or an error naming the file, never a panic; what
//! it reads renders and reads back the same.
#![no_main]

#[path = "../../crates/node/src/custody/file.rs"]
#[allow(dead_code)]
mod file;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let seed = Some(("custody fuzz seed", 0));
    match file::parse(data, "custody.json", seed) {
        Ok(entries) => {
            let listed: Vec<file::Entry> = entries.iter().map(|(e, _)| e.clone()).collect();
            for (e, pair) in &entries {
                assert_eq!(pair.public_key().to_base58(), e.key);
            }
            let text = file::render(&listed).unwrap();
            let again = file::parse(&text, "custody.json", seed).unwrap();
            assert_eq!(again.len(), listed.len());
        }
        Err(e) => assert!(e.contains("custody.json"), "{e}"),
    }
    let _ = file::parse(data, "custody.json", None);
});
