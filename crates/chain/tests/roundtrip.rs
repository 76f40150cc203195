//! Round trips of every wire form: binary, JSON, chain JSON (proptest).

use accord_chain::{Attachment, Chain, ChainId, Event, Nonce, PartialStart, Version};
use accord_crypto::{KeyPair, KeyType, PublicKey, Signature};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = PublicKey> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(PublicKey::ed25519),
        (any::<[u8; 32]>(), any::<bool>()).prop_map(|(bytes, odd)| {
            let mut key = vec![if odd { 3 } else { 2 }];
            key.extend_from_slice(&bytes);
            PublicKey::new(KeyType::Secp256k1, &key).unwrap()
        }),
    ]
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        ".{0,12}",
        "[a-z]{1,8}/[a-z]{1,8}",
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(name, media_type, data)| Attachment {
            name,
            media_type,
            data,
        })
}

fn event(version: Version) -> impl Strategy<Value = Event> {
    let attachments = if version == Version::V2 {
        proptest::collection::vec(attachment(), 0..3).boxed()
    } else {
        Just(vec![]).boxed()
    };
    (
        0..=accord_chain::event::MAX_TIMESTAMP,
        any::<[u8; 32]>(),
        key(),
        proptest::option::of(any::<[u8; 32]>()),
        "[a-z]{1,10}/[a-z+.-]{1,12}",
        proptest::collection::vec(any::<u8>(), 0..300),
        attachments,
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(timestamp, previous, key, sig, media_type, data, attachments, hash)| Event {
                timestamp,
                previous,
                sign_key: Some(key),
                signature: sig.map(|half| {
                    let mut bytes = [0u8; 64];
                    bytes[..32].copy_from_slice(&half);
                    Signature::new(bytes)
                }),
                hash: Some(hash),
                media_type,
                data,
                attachments,
            },
        )
}

proptest! {
    #[test]
    fn v2_binary_round_trips(event in event(Version::V2)) {
        let binary = event.to_binary(Version::V2).unwrap();
        let back = Event::from_binary(Version::V2, &binary).unwrap();
        // The binary form carries neither signature nor hash.
        prop_assert_eq!(back, Event { signature: None, hash: None, ..event });
    }

    #[test]
    fn chain_json_round_trips(
        events in proptest::collection::vec(event(Version::V2), 0..5),
        v1_events in proptest::collection::vec(event(Version::V1), 0..3),
        stub in proptest::option::of(any::<([u8; 32], [u8; 32])>()),
        nonce in ".{0,10}",
    ) {
        let creator = KeyPair::from_seed_phrase(&nonce, 0);
        for (version, events) in [(Version::V2, events), (Version::V1, v1_events)] {
            let chain = Chain {
                id: ChainId::new(version, b'T', creator.public_key(), &Nonce::from_text(&nonce)),
                start: stub.map(|(hash, state)| PartialStart { hash, state }),
                events: events.clone(),
            };
            prop_assert_eq!(Chain::from_json(chain.to_json().as_bytes()).unwrap(), chain.clone());
            prop_assert_eq!(Chain::from_json(chain.to_json_pretty().as_bytes()).unwrap(), chain);
        }
    }

    #[test]
    fn any_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Event::from_binary(Version::V2, &bytes);
        let _ = accord_chain::AnyChain::from_json(&bytes);
    }
}
