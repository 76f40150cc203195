//! Legacy (`0x40`) chain JSON (`LegacyChain::from_json`): never panics; a chain that reads
//! validates and writes back to JSON without panicking.
#![no_main]

use accord_chain::LegacyChain;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(chain) = LegacyChain::from_json(data) else {
        return;
    };
    let _ = chain.validate();
    let _ = chain.to_json();
});
