//! Keystore file JSON (`Keystore::from_json`, without opening: that runs Argon2): never
//! panics; the header's key type and public key read without panicking, and a keystore that
//! reads writes back to JSON that reads as the same keystore.
#![no_main]

use accord_crypto::keystore::Keystore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(keystore) = Keystore::from_json(data) else {
        return;
    };
    let _ = keystore.key_type();
    let _ = keystore.public_key();
    let json = keystore.to_json();
    let again = Keystore::from_json(json.as_bytes())
        .unwrap_or_else(|err| panic!("written keystore does not read back: {err}\n{json}"));
    assert_eq!(
        again, keystore,
        "keystore JSON round trip changed it\n{json}"
    );
});
