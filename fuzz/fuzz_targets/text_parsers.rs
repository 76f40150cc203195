//! Every text parser, on the same input: chain ids, derived ids, legacy chain ids, addresses
//! and base58. None panics. Base58 is a bijection (the decoder takes only alphabet
//! characters), so whatever decodes encodes back to the same text, and so does every id or
//! address that parses.
#![no_main]

use accord_chain::{ChainId, DerivedId, LegacyChainId};
use accord_crypto::{Address, base58};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = text.parse::<ChainId>() {
        assert_eq!(id.to_base58(), text, "chain id round trip");
    }
    if let Ok(id) = text.parse::<DerivedId>() {
        assert_eq!(id.to_base58(), text, "derived id round trip");
    }
    if let Ok(id) = text.parse::<LegacyChainId>() {
        assert_eq!(id.to_base58(), text, "legacy chain id round trip");
    }
    if let Ok(address) = text.parse::<Address>() {
        assert_eq!(address.to_base58(), text, "address round trip");
    }
    let decoded = base58::decode(text);
    if let Ok(bytes) = &decoded {
        assert_eq!(base58::encode(bytes), text, "base58 round trip");
    }
    let array = base58::decode_array::<32>(text);
    if let Ok(array) = &array {
        assert_eq!(
            decoded.as_deref().ok(),
            Some(&array[..]),
            "decode_array disagrees with decode"
        );
    } else if let Ok(bytes) = &decoded {
        assert_ne!(bytes.len(), 32, "decode_array refused a 32-byte encoding");
    }
});
