//! Interop with the real reference client, npm `@ltonetwork/lto` (pinned in
//! tests/interop/package.json), run in Node.js through tests/interop/ref.mjs.
//!
//! `scripts/test` installs the harness's packages (`npm ci`); run by hand, do that first:
//! `npm ci --prefix tests/interop`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use accord_chain::{Chain, ChainId, Draft, Nonce, Problem, VerifiedChain, Version};
use accord_crypto::{KeyPair, KeyType, SeedPhrase, base58, encrypt};
use serde_json::{Value, json};

fn harness() -> PathBuf {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../tests/interop");
    assert!(
        dir.join("node_modules/@ltonetwork/lto").exists(),
        "the reference client is not installed: run `npm ci --prefix tests/interop` (scripts/test does this)"
    );
    dir
}

/// Runs a harness command with a JSON request on stdin, or a file argument.
fn reference(command: &str, request: Option<&Value>, file: Option<&Path>) -> Value {
    let mut cmd = Command::new("node");
    cmd.current_dir(harness())
        .args(["--import", "./register.mjs", "ref.mjs", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(file) = file {
        cmd.arg(file);
    }
    let mut child = cmd.spawn().expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(request) = request {
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("write request");
    }
    drop(stdin);
    let output = child.wait_with_output().expect("node finishes");
    assert!(
        output.status.success(),
        "reference {command} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the harness prints JSON")
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("accord-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn accord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

#[test]
fn keys_match_the_reference_for_fixed_and_new_seed_phrases() {
    let mut seeds: Vec<String> = vec![
        "test".into(),
        "seed".into(),
        // (The reference treats an empty phrase as no phrase and makes a random key; Accord's
        // CLI refuses it.)
        "ünïcödé seed ✓".into(),
        "satisfy sustain shiver skill betray mother appear pupil coconut weasel firm top puzzle monkey seek".into(),
    ];
    seeds.extend((0..5).map(|_| SeedPhrase::generate(15).unwrap().as_str().to_owned()));
    let mut requests = Vec::new();
    for seed in &seeds {
        for network in ["L", "T", "Z"] {
            requests.push(json!({"seed": seed, "network": network}));
        }
    }
    let mnemonic = SeedPhrase::generate_mnemonic().unwrap();
    requests.push(json!({"seed": mnemonic.as_str(), "network": "T", "keyType": "secp256k1"}));
    let answers = reference("keys", Some(&json!({"accounts": requests})), None);

    for (request, answer) in requests.iter().zip(answers.as_array().unwrap()) {
        let network = request["network"].as_str().unwrap().as_bytes()[0];
        let seed = request["seed"].as_str().unwrap();
        let pair = if request["keyType"] == "secp256k1" {
            KeyPair::from_mnemonic(seed, accord_crypto::DEFAULT_DERIVATION_PATH).unwrap()
        } else {
            KeyPair::from_seed_phrase(seed, 0)
        };
        assert_eq!(
            answer["publicKey"],
            pair.public_key().to_base58(),
            "{request}"
        );
        assert_eq!(
            answer["address"],
            pair.address(network).to_base58(),
            "{request}"
        );
        assert_eq!(
            answer["privateKey"],
            base58::encode(&pair.private_key_bytes()),
            "{request}"
        );
        if let Some(encrypt_key) = pair.x25519_public() {
            assert_eq!(
                answer["encryptKey"],
                base58::encode(&encrypt_key),
                "{request}"
            );
        }
    }

    // The CLI prints the same for a seed phrase.
    let output = accord()
        .args(["keys", "show", "--json", "--network", "T", "--seed-phrase"])
        .arg(&seeds[4])
        .output()
        .unwrap();
    assert!(output.status.success());
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    let answer = &answers[13];
    assert_eq!(requests[13]["seed"], seeds[4]);
    for field in ["publicKey", "address", "encryptKey"] {
        assert_eq!(shown[field], answer[field], "{field}");
    }
}

/// A rich chain spec for the reference: `n` events by three signers, JSON, binary and text
/// payloads, attachments on some (v2 only).
fn spec(version: u8, n: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut event = match i % 3 {
                0 => json!({"kind": "json", "data": {"step": i, "ok": true, "list": [1, 2, 3], "text": "é"}}),
                1 => json!({"kind": "binary", "mediaType": "application/octet-stream",
                            "data": base64(&(0..(i % 200) as u8).collect::<Vec<_>>())}),
                _ => json!({"kind": "text", "data": format!("note {i}")}),
            };
            event["signer"] = json!(i % 3);
            event["timestamp"] = json!(1_700_000_000_000u64 + i as u64 * 1000);
            if version == 2 && i % 4 == 1 {
                event["attachments"] = json!([
                    {"name": "invoice.pdf", "kind": "binary", "mediaType": "application/pdf", "data": base64(&[0x25, 0x50, 0x44, 0x46, i as u8])},
                    {"name": "meta.json", "kind": "json", "data": {"n": i}},
                ]);
            }
            event
        })
        .collect();
    json!({
        "network": "T",
        "seeds": ["alice seed", "bob seed", "carol seed"],
        "nonce": format!("interop v{version}"),
        "version": version,
        "events": events,
    })
}

fn base64(bytes: &[u8]) -> String {
    accord_chain::json::encode_data(bytes)
        .strip_prefix("base64:")
        .unwrap()
        .to_owned()
}

fn assert_same_facts(verified: &VerifiedChain, facts: &Value) {
    assert_eq!(facts["state"], base58::encode(&verified.state()));
    assert_eq!(facts["latestHash"], base58::encode(&verified.latest_hash()));
    let map: Vec<Value> = verified
        .anchor_map()
        .iter()
        .map(|a| json!({"key": base58::encode(&a.key), "value": base58::encode(&a.value), "signer": a.signer.to_base58()}))
        .collect();
    assert_eq!(facts["anchorMap"], Value::from(map));
}

#[test]
fn accord_verifies_chains_the_reference_builds() {
    for version in [2u8, 1] {
        let built = reference("build", Some(&spec(version, 240)), None);
        let json = built["chain"].to_string();
        let chain = Chain::from_json(json.as_bytes()).unwrap();
        assert_eq!(chain.events.len(), 240);
        let report = chain.validate();
        assert!(report.is_valid(), "v{version}: {report}");
        let verified = chain.verify().unwrap();
        assert_same_facts(&verified, &built);
        // Accord writes back exactly what it read.
        assert_eq!(verified.to_json(), json, "v{version}");

        // And through the CLI.
        let file = temp_file(&format!("reference-v{version}.json"), &json);
        let status = accord()
            .args(["chain", "verify"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stdout)
        );
    }

    // A partial chain the reference cut (startingAfter) verifies and continues the state.
    let mut request = spec(2, 30);
    request["partialAfter"] = json!(11);
    let built = reference("build", Some(&request), None);
    let partial = Chain::from_json(built["chain"].to_string().as_bytes()).unwrap();
    assert_eq!(partial.events.len(), 18);
    let verified = partial.verify().unwrap();
    assert_eq!(built["state"], base58::encode(&verified.state()));
}

fn accord_chain(version: Version, n: usize) -> VerifiedChain {
    let signers: Vec<KeyPair> = ["dave", "erin", "frank"]
        .iter()
        .map(|s| KeyPair::from_seed_phrase(s, 0))
        .collect();
    let id = ChainId::new(
        version,
        b'T',
        signers[0].public_key(),
        &Nonce::from_text("made by accord"),
    );
    let mut chain = VerifiedChain::new(id);
    for i in 0..n {
        let mut draft = match i % 3 {
            0 => Draft::json(&json!({"step": i, "nested": {"a": [true, null, 1.5]}})),
            1 => Draft::new("application/octet-stream", vec![(i % 256) as u8; i % 300]),
            _ => Draft::new("text/plain", format!("line {i} ✓")),
        };
        if version == Version::V2 && i % 5 == 2 {
            draft = draft
                .attach(
                    "scan.png",
                    "image/png",
                    vec![0x89, 0x50, 0x4e, 0x47, i as u8],
                )
                .attach("empty", "text/plain", Vec::new());
        }
        chain
            .sign_and_append(draft, &signers[i % 3], 1_710_000_000_000 + i as u64)
            .unwrap();
    }
    chain
}

#[test]
fn the_reference_accepts_chains_accord_builds() {
    for version in [Version::V2, Version::V1] {
        let chain = accord_chain(version, 150);
        let file = temp_file(&format!("accord-{version}.json"), &chain.to_json());
        let answer = reference("validate", None, Some(&file));
        assert_eq!(answer["valid"], true, "{version}: {answer}");
        assert_same_facts(&chain, &answer);

        // A partial copy (after event 99) is accepted too.
        let partial = chain.partial_after(&chain.events()[99].hash()).unwrap();
        let file = temp_file(
            &format!("accord-partial-{version}.json"),
            &partial.to_json(),
        );
        let answer = reference("validate", None, Some(&file));
        assert_eq!(answer["valid"], true, "{version} partial: {answer}");
        assert_eq!(answer["state"], base58::encode(&chain.state()));
    }
}

#[test]
fn the_reference_accepts_chains_made_with_the_cli() {
    let dir = std::env::temp_dir().join(format!("accord-interop-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chain.json");
    let run = |args: &[&str]| {
        let output = accord().current_dir(&dir).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    run(&[
        "chain",
        "new",
        "--seed-phrase",
        "grace",
        "--network",
        "T",
        "--nonce",
        "cli",
        "-o",
        "chain.json",
    ]);
    std::fs::write(dir.join("contract.txt"), "terms").unwrap();
    run(&[
        "chain",
        "add",
        "chain.json",
        "--seed-phrase",
        "grace",
        "--data",
        r#"{"$schema":"x","title":"deal"}"#,
    ]);
    run(&[
        "chain",
        "add",
        "chain.json",
        "--seed-phrase",
        "heidi",
        "--text",
        "agreed",
        "--attach",
        "contract.txt",
    ]);
    run(&[
        "chain",
        "add",
        "chain.json",
        "--seed-phrase",
        "grace",
        "--data-file",
        "contract.txt",
    ]);
    let answer = reference("validate", None, Some(&file));
    assert_eq!(answer["valid"], true, "{answer}");
}

/// Applies a tampering to a reference-built chain and checks both sides reject it, Accord
/// naming the event.
#[test]
fn tampered_chains_are_rejected_with_the_event_named() {
    let built = reference("build", Some(&spec(2, 40)), None);
    let original = built["chain"].clone();
    let hash_of = |index: usize| {
        original["events"][index]["hash"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, usize)> = vec![
        (
            "a flipped data bit",
            Box::new(|c| {
                let data = c["events"][7]["data"].as_str().unwrap().to_owned();
                let mut bytes = accord_chain::json::decode_data(&data).unwrap();
                bytes[3] ^= 0x01;
                c["events"][7]["data"] = accord_chain::json::encode_data(&bytes).into();
            }),
            7,
        ),
        (
            "swapped events",
            Box::new(|c| {
                let events = c["events"].as_array_mut().unwrap();
                events.swap(12, 13);
            }),
            12,
        ),
        (
            "a missing event",
            Box::new(|c| {
                c["events"].as_array_mut().unwrap().remove(20);
            }),
            20,
        ),
        (
            "a wrong previous",
            Box::new(|c| {
                c["events"][25]["previous"] = c["events"][23]["hash"].clone();
            }),
            25,
        ),
        (
            "a changed timestamp",
            Box::new(|c| {
                let t = c["events"][30]["timestamp"].as_u64().unwrap();
                c["events"][30]["timestamp"] = (t + 1).into();
            }),
            30,
        ),
        (
            "a dropped attachment",
            Box::new(|c| {
                c["events"][9]["attachments"].as_array_mut().unwrap().pop();
            }),
            9,
        ),
        (
            "a bad signature",
            Box::new(|c| {
                let sig = c["events"][33]["signature"].as_str().unwrap().to_owned();
                let mut bytes = base58::decode(&sig).unwrap();
                bytes[5] ^= 0x10;
                c["events"][33]["signature"] = base58::encode(&bytes).into();
            }),
            33,
        ),
    ];

    for (name, tamper, index) in cases {
        let mut chain = original.clone();
        tamper(&mut chain);
        let json = chain.to_string();
        let file = temp_file("tampered.json", &json);
        let answer = reference("validate", None, Some(&file));
        assert_eq!(answer["valid"], false, "the reference accepted {name}");

        let report = Chain::from_json(json.as_bytes()).unwrap().validate();
        assert!(!report.is_valid(), "Accord accepted {name}");
        let first = &report.problems[0];
        assert_eq!(first.index(), Some(index), "{name}: {report}");
        let expected_hash = chain["events"][index]["hash"].as_str().unwrap();
        assert!(
            first
                .to_string()
                .starts_with(&format!("event {index} ({expected_hash})")),
            "{name}: {first}"
        );

        let output = accord()
            .args(["chain", "verify"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&format!("event {index} (")),
            "{name}: {stdout}"
        );
    }
    // The untouched chain passes both, so the cases above fail for their tampering alone.
    let _ = hash_of(0);
    let file = temp_file("untouched.json", &original.to_string());
    assert_eq!(reference("validate", None, Some(&file))["valid"], true);
    assert!(
        Chain::from_json(original.to_string().as_bytes())
            .unwrap()
            .validate()
            .is_valid()
    );
}

#[test]
fn a_bad_id_checksum_and_a_foreign_genesis_are_rejected_by_both() {
    // A bad checksum: Accord refuses the id when reading; the reference's genesis check fails.
    let built = reference("build", Some(&spec(2, 3)), None);
    let mut chain = built["chain"].clone();
    let mut id = base58::decode(chain["id"].as_str().unwrap()).unwrap();
    id[45] ^= 1;
    chain["id"] = base58::encode(&id).into();
    let file = temp_file("bad-id.json", &chain.to_string());
    assert_eq!(reference("validate", None, Some(&file))["valid"], false);
    let err = Chain::from_json(chain.to_string().as_bytes()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "id: id checksum does not match (mistyped or altered id) (line 1, column "
        ),
        "{err}"
    );
    let output = accord()
        .args(["chain", "verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("id checksum does not match"));

    // A genesis signed by someone other than the creator.
    let mut request = spec(2, 3);
    request["events"][0]["signer"] = json!(1);
    request["skipValidate"] = json!(true);
    let built = reference("build", Some(&request), None);
    let file = temp_file("foreign-genesis.json", &built["chain"].to_string());
    assert_eq!(reference("validate", None, Some(&file))["valid"], false);
    let report = Chain::from_json(built["chain"].to_string().as_bytes())
        .unwrap()
        .validate();
    assert_eq!(report.problems.len(), 1, "{report}");
    assert!(matches!(
        report.problems[0],
        Problem::GenesisNotByCreator { .. }
    ));
    let hash = built["chain"]["events"][0]["hash"].as_str().unwrap();
    assert!(
        report
            .to_string()
            .starts_with(&format!("event 0 ({hash}): genesis event signed by"))
    );
}

#[test]
fn sealed_boxes_open_on_the_other_side() {
    let recipient = KeyPair::from_seed_phrase("ivan", 0);
    for payload in [
        &b""[..],
        b"x",
        "a confidential offer: 12,500 t of biomass at \u{20ac}41/t".as_bytes(),
        &[0u8; 5000],
    ] {
        let sealed = encrypt::seal(&recipient.x25519_public().unwrap(), payload).unwrap();
        let answer = reference(
            "decrypt",
            Some(&json!({"seed": "ivan", "network": "T", "ciphertext": base58::encode(&sealed)})),
            None,
        );
        assert_eq!(answer["plaintext"], base64(payload));

        let answer = reference(
            "encrypt",
            Some(
                &json!({"publicKey": recipient.public_key().to_base58(), "plaintext": base64(payload)}),
            ),
            None,
        );
        let sealed = base58::decode(answer["ciphertext"].as_str().unwrap()).unwrap();
        assert_eq!(encrypt::open(&recipient, &sealed).unwrap(), payload);
    }
}

#[test]
fn ecdsa_signatures_agree_with_the_reference() {
    // The reference signs messages of up to 55 bytes correctly (longer ones hit its hashing
    // bug); both sides use RFC 6979, so the signatures must be identical, not just valid.
    let messages: Vec<Vec<u8>> = vec![b"".to_vec(), b"accord".to_vec(), vec![7u8; 55]];
    let encoded: Vec<String> = messages.iter().map(|m| base64(m)).collect();
    for key_type in [KeyType::Secp256k1, KeyType::Secp256r1] {
        let pair = KeyPair::from_private_key(key_type, &[0x42; 32]).unwrap();
        let private = base58::encode(&pair.private_key_bytes());
        let answer = reference(
            "sign",
            Some(&json!({"keyType": key_type.name(), "privateKey": private, "messages": encoded})),
            None,
        );
        assert_eq!(
            answer["publicKey"],
            pair.public_key().to_base58(),
            "{key_type}"
        );
        for (message, theirs) in messages
            .iter()
            .zip(answer["signatures"].as_array().unwrap())
        {
            let ours = pair.sign(message);
            assert_eq!(theirs, &ours.to_base58(), "{key_type}");
            let theirs = accord_crypto::Signature::from_base58(theirs.as_str().unwrap()).unwrap();
            assert!(pair.public_key().verify(message, &theirs));
        }
        let checks: Vec<Value> = messages
            .iter()
            .map(|m| json!({"message": base64(m), "signature": pair.sign(m).to_base58()}))
            .collect();
        let answer = reference(
            "verify",
            Some(
                &json!({"keyType": key_type.name(), "publicKey": pair.public_key().to_base58(), "checks": checks}),
            ),
            None,
        );
        assert_eq!(answer["valid"], json!([true, true, true]), "{key_type}");
    }
}

#[test]
fn ecdsa_event_chains_verify_with_the_reference_binary_form_and_curve_code() {
    let creator = KeyPair::from_private_key(KeyType::Secp256k1, &[0x11; 32]).unwrap();
    let other = KeyPair::from_private_key(KeyType::Secp256r1, &[0x22; 32]).unwrap();
    let id = ChainId::new(
        Version::V2,
        b'T',
        creator.public_key(),
        &Nonce::from_text("ecdsa"),
    );
    let mut chain = VerifiedChain::new(id);
    for i in 0..20u64 {
        let signer = if i % 2 == 0 { &creator } else { &other };
        let draft = Draft::json(&json!({"i": i})).attach("a", "text/plain", vec![b'x'; i as usize]);
        chain
            .sign_and_append(draft, signer, 1_720_000_000_000 + i)
            .unwrap();
    }
    let file = temp_file("ecdsa.json", &chain.to_json());
    let answer = reference("ecdsa-validate", None, Some(&file));
    assert_eq!(answer["valid"], true, "{answer}");
    assert_same_facts(&chain, &answer);

    // One altered signature is caught by the same harness.
    let mut json: Value = serde_json::from_str(&chain.to_json()).unwrap();
    let sig = json["events"][5]["signature"].as_str().unwrap().to_owned();
    let mut bytes = base58::decode(&sig).unwrap();
    bytes[40] ^= 1;
    json["events"][5]["signature"] = base58::encode(&bytes).into();
    let file = temp_file("ecdsa-bad.json", &json.to_string());
    assert_eq!(
        reference("ecdsa-validate", None, Some(&file))["valid"],
        false
    );
    let report = Chain::from_json(json.to_string().as_bytes())
        .unwrap()
        .validate();
    assert_eq!(
        report
            .problems
            .iter()
            .map(Problem::index)
            .collect::<Vec<_>>(),
        [Some(5)]
    );
}
