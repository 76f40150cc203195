//! Chain JSON of any format (`AnyChain::from_json`): never panics; a chain that reads
//! validates without panicking; a v1/v2 chain written back reads as the same chain.
#![no_main]

use accord_chain::{AnyChain, Chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(chain) = AnyChain::from_json(data) else {
        return;
    };
    let _ = chain.validate();
    let _ = (chain.id(), chain.len(), chain.is_empty());
    if let AnyChain::Lto(chain) = &chain {
        let json = chain.to_json();
        let again = Chain::from_json(json.as_bytes())
            .unwrap_or_else(|err| panic!("written chain does not read back: {err}\n{json}"));
        assert_eq!(
            &again, chain,
            "chain JSON round trip changed the chain\n{json}"
        );
    }
});
