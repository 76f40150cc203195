//! The node's TOML configuration (`accord-node`'s `config`, included from its source): any
//! text reads to a configuration or an error naming the file, never a panic.
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
});
