//! Verifying a chain, next to the floor it is measured against: ed25519-dalek's one-signature
//! check over the same signatures. `cargo bench -p accord-chain`; `accord bench chain` runs
//! the same comparison on a 100,000-event file with the reference client beside it.

use accord_chain::{AnyChain, Chain, ChainId, Draft, Nonce, VerifiedChain, Version};
use accord_crypto::{KeyPair, SignatureCheck, verify_all};
use ed25519_dalek::Verifier as _;

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[100, 1_000, 10_000];

fn chain_json(events: usize) -> Vec<u8> {
    let keys: Vec<KeyPair> = (0..3)
        .map(|n| KeyPair::from_seed_phrase(&format!("bench {n}"), 0))
        .collect();
    let id = ChainId::new(
        Version::V2,
        b'T',
        keys[0].public_key(),
        &Nonce::from_text("bench"),
    );
    let mut chain = VerifiedChain::new(id);
    for i in 0..events {
        let payload = serde_json::json!({"step": i, "action": "review", "data": {"amount": i * 7}});
        chain
            .sign_and_append(
                Draft::json(&payload),
                &keys[i % 3],
                1_700_000_000_000 + i as u64,
            )
            .unwrap();
    }
    chain.to_json().into_bytes()
}

/// Accord, from the JSON bytes to the report.
#[divan::bench(args = SIZES, sample_count = 10)]
fn accord_json_to_report(bencher: divan::Bencher, events: usize) {
    let json = chain_json(events);
    bencher
        .counter(divan::counter::ItemsCount::new(events))
        .bench(|| {
            let report = AnyChain::from_json(divan::black_box(&json))
                .unwrap()
                .validate();
            assert!(report.is_valid());
        });
}

struct Prepared {
    messages: Vec<Vec<u8>>,
    keys: Vec<accord_crypto::PublicKey>,
    signatures: Vec<accord_crypto::Signature>,
}

fn prepare(events: usize) -> Prepared {
    let chain = Chain::from_json(&chain_json(events)).unwrap();
    Prepared {
        messages: chain
            .events
            .iter()
            .map(|e| e.to_binary(Version::V2).unwrap())
            .collect(),
        keys: chain.events.iter().map(|e| e.sign_key.unwrap()).collect(),
        signatures: chain.events.iter().map(|e| e.signature.unwrap()).collect(),
    }
}

/// The floor: ed25519-dalek's plain check, one signature at a time, keys decoded beforehand.
#[divan::bench(args = SIZES, sample_count = 10)]
fn floor_single_signature_checks(bencher: divan::Bencher, events: usize) {
    let prepared = prepare(events);
    let keys: Vec<ed25519_dalek::VerifyingKey> = prepared
        .keys
        .iter()
        .map(|k| ed25519_dalek::VerifyingKey::from_bytes(k.as_bytes().try_into().unwrap()).unwrap())
        .collect();
    let sigs: Vec<ed25519_dalek::Signature> = prepared
        .signatures
        .iter()
        .map(|s| ed25519_dalek::Signature::from_bytes(s.as_bytes()))
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(events))
        .bench(|| {
            for ((message, key), sig) in prepared.messages.iter().zip(&keys).zip(&sigs) {
                key.verify(message, sig).unwrap();
            }
        });
}

/// Accord's batched signature checks alone, over the same prepared inputs.
#[divan::bench(args = SIZES, sample_count = 10)]
fn accord_batched_signature_checks(bencher: divan::Bencher, events: usize) {
    let prepared = prepare(events);
    let checks: Vec<SignatureCheck<'_>> = prepared
        .messages
        .iter()
        .zip(&prepared.keys)
        .zip(&prepared.signatures)
        .map(|((message, public_key), signature)| SignatureCheck {
            public_key,
            message,
            signature,
        })
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(events))
        .bench(|| assert!(verify_all(divan::black_box(&checks)).is_empty()));
}

/// Reading the JSON alone.
#[divan::bench(args = SIZES, sample_count = 10)]
fn accord_json_parse(bencher: divan::Bencher, events: usize) {
    let json = chain_json(events);
    bencher
        .counter(divan::counter::ItemsCount::new(events))
        .bench(|| Chain::from_json(divan::black_box(&json)).unwrap());
}
