//! The node's TOML configuration (`accord-node`'s `config`, included from its source): any
//! text reads to a configuration or an error naming the file, never a panic. The same text is
//! read as a request's authority (its `Host`, which a node compares with the authorities it
//! answers to) and as a URL's: never a panic, and a normal form is its own normal form.
#![no_main]

#[path = "../../crates/node/src/config.rs"]
#[allow(dead_code)]
mod config;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::Config::from_toml(text, std::path::Path::new("node.toml")) {
        Ok(c) => {
            let _ = c.database_url();
            let _ = c.key_path();
        }
        Err(e) => assert!(e.0.contains("node.toml") || !e.0.is_empty()),
    }
    for scheme in ["http", "https"] {
        if let Ok(normal) = config::normal_authority(text, scheme) {
            assert_eq!(
                config::normal_authority(&normal, scheme).as_deref(),
                Ok(normal.as_str()),
                "the normal form of {text:?} is not its own normal form"
            );
        }
    }
    let _ = config::url_authority(text);
});
