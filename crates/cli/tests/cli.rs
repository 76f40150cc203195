//! The `accord` binary end to end: outputs, files, exit codes, and bad input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("accord-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn accord(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .current_dir(dir)
        .args(args)
        .env_remove("ACCORD_PASSPHRASE")
        .env_remove("ACCORD_SEED_PHRASE")
        .env_remove("ACCORD_PRIVATE_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "accord panicked on {args:?}: {stderr}"
    );
    output
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let output = accord(dir, args, None);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A chain file `name` in `dir`, created by seed `kim` on testnet, with a text event for each of
/// `texts`.
fn kims_chain(dir: &Path, name: &str, texts: &[&str]) {
    ok(
        dir,
        &[
            "chain",
            "new",
            "--seed-phrase",
            "kim",
            "--network",
            "T",
            "-o",
            name,
        ],
    );
    for text in texts {
        ok(
            dir,
            &["chain", "add", name, "--seed-phrase", "kim", "--text", text],
        );
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn keys_show_prints_the_reference_values() {
    let dir = workdir("show");
    let out = ok(
        &dir,
        &["keys", "show", "--seed-phrase", "test", "--network", "T"],
    );
    assert!(
        out.contains("2KduZAmAKuXEL463udjCQkVfwJkBQhpciUC4gNiayjSJ"),
        "{out}"
    );
    assert!(out.contains("3N4mZ1qTrjWKnzBwAxscf7kfkoCs2HGQhJG"), "{out}");
    assert!(
        out.contains("8GNG8pExbCTjQGHPgNRSan3xd4Q2tyY12VUFTQxTjmgJ"),
        "{out}"
    );
    let json: Value = serde_json::from_str(&ok(
        &dir,
        &["keys", "show", "--seed-phrase", "test", "--json"],
    ))
    .unwrap();
    assert_eq!(json["address"], "3Jr4j8y5Z44cnSipUmWx7EkVTmAoUaXu3Fx");
    assert!(json.get("privateKey").is_none(), "secrets only on request");
}

#[test]
fn new_keys_go_into_a_keystore_that_opens_with_its_passphrase_only() {
    let dir = workdir("keystore");
    std::fs::write(dir.join("pass"), "correct horse\n").unwrap();
    std::fs::write(dir.join("wrong"), "battery staple\n").unwrap();
    let created: Value = serde_json::from_str(&ok(
        &dir,
        &[
            "keys",
            "new",
            "--keystore",
            "me.json",
            "--passphrase-file",
            "pass",
            "--json",
            "--network",
            "T",
        ],
    ))
    .unwrap();
    assert!(
        created.get("seedPhrase").is_none(),
        "not printed when it went into a keystore"
    );
    let keystore = std::fs::read_to_string(dir.join("me.json")).unwrap();
    assert!(keystore.contains("argon2id"));

    let shown: Value = serde_json::from_str(&ok(
        &dir,
        &[
            "keys",
            "show",
            "--keystore",
            "me.json",
            "--passphrase-file",
            "pass",
            "--json",
            "--network",
            "T",
        ],
    ))
    .unwrap();
    assert_eq!(shown["address"], created["address"]);

    let wrong = accord(
        &dir,
        &[
            "keys",
            "show",
            "--keystore",
            "me.json",
            "--passphrase-file",
            "wrong",
        ],
        None,
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("wrong passphrase"),
        "{}",
        stderr(&wrong)
    );

    // An existing keystore is never overwritten.
    let again = accord(
        &dir,
        &[
            "keys",
            "new",
            "--keystore",
            "me.json",
            "--passphrase-file",
            "pass",
        ],
        None,
    );
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("me.json")).unwrap(),
        keystore
    );

    // Without a passphrase and without a terminal, it says how to give one.
    let none = accord(&dir, &["keys", "show", "--keystore", "me.json"], None);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("--passphrase-file"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn new_keys_of_every_type() {
    let dir = workdir("types");
    for key_type in ["ed25519", "secp256k1", "secp256r1"] {
        let out: Value = serde_json::from_str(&ok(
            &dir,
            &["keys", "new", "--key-type", key_type, "--json"],
        ))
        .unwrap();
        assert_eq!(out["keyType"], key_type);
        let words = out["seedPhrase"].as_str().map(|p| p.split(' ').count());
        let expected = match key_type {
            "ed25519" => Some(15),
            "secp256k1" => Some(12),
            _ => None,
        };
        assert_eq!(words, expected, "{key_type}");
        // The phrase (or private key) gives the same key back.
        let mut args = vec!["keys", "show", "--json", "--key-type", key_type];
        let secret;
        if let Some(phrase) = out["seedPhrase"].as_str() {
            secret = phrase.to_owned();
            args.extend(["--seed-phrase", &secret]);
        } else {
            secret = out["privateKey"].as_str().unwrap().to_owned();
            args.extend(["--private-key", &secret]);
        }
        let shown: Value = serde_json::from_str(&ok(&dir, &args)).unwrap();
        assert_eq!(shown["publicKey"], out["publicKey"], "{key_type}");
    }
}

#[test]
fn a_chain_made_and_grown_through_pipes_verifies() {
    let dir = workdir("pipes");
    let created = accord(
        &dir,
        &[
            "chain",
            "new",
            "--seed-phrase",
            "judy",
            "--nonce",
            "n",
            "--network",
            "T",
        ],
        None,
    );
    assert!(created.status.success());
    let added = accord(
        &dir,
        &[
            "chain",
            "add",
            "--seed-phrase",
            "judy",
            "--data",
            "{\"b\":1,\"a\":2}",
            "--timestamp",
            "5",
        ],
        Some(&created.stdout),
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stderr(&added).contains("added event 0"));
    let chain: Value = serde_json::from_slice(&added.stdout).unwrap();
    // The JSON payload keeps its key order, as JSON.stringify would.
    assert_eq!(chain["events"][0]["data"], "base64:eyJiIjoxLCJhIjoyfQ==");
    assert_eq!(chain["events"][0]["timestamp"], 5);

    let verified = accord(&dir, &["chain", "verify", "-"], Some(&added.stdout));
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    assert!(stdout(&verified).starts_with("<stdin>: valid: v2 chain"));

    let shown: Value = serde_json::from_slice(
        &accord(
            &dir,
            &["chain", "show", "--json", "--anchors", "-"],
            Some(&added.stdout),
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(shown["valid"], true);
    assert_eq!(shown["events"][0]["signer"].as_str().unwrap().len(), 35);
    assert_eq!(shown["anchorMap"].as_array().unwrap().len(), 1);
}

#[test]
fn only_the_creator_can_add_the_genesis_event() {
    let dir = workdir("genesis");
    kims_chain(&dir, "c.json", &[]);
    let output = accord(
        &dir,
        &[
            "chain",
            "add",
            "c.json",
            "--seed-phrase",
            "lee",
            "--text",
            "mine now",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not the creator"),
        "{}",
        stderr(&output)
    );
    // The file is unchanged: still no events.
    let chain: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("c.json")).unwrap()).unwrap();
    assert_eq!(chain["events"], json!([]));
}

#[test]
fn verify_reports_every_file_and_exits_by_the_worst() {
    let dir = workdir("verify");
    kims_chain(&dir, "good.json", &["one", "two", "three"]);
    let good = std::fs::read_to_string(dir.join("good.json")).unwrap();
    let mut bad: Value = serde_json::from_str(&good).unwrap();
    bad["events"][1]["mediaType"] = "text/html".into();
    std::fs::write(dir.join("bad.json"), bad.to_string()).unwrap();

    let out = ok(&dir, &["chain", "verify", "good.json"]);
    assert!(out.starts_with("good.json: valid: v2 chain"), "{out}");

    let output = accord(&dir, &["chain", "verify", "good.json", "bad.json"], None);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    let hash = bad["events"][1]["hash"].as_str().unwrap();
    assert!(out.contains("good.json: valid"), "{out}");
    assert!(out.contains("bad.json: INVALID: 2 problem(s)"), "{out}");
    assert!(
        out.contains(&format!("  event 1 ({hash}): hash does not match")),
        "{out}"
    );
    assert!(
        out.contains(&format!("  event 1 ({hash}): signature does not verify")),
        "{out}"
    );

    let output = accord(&dir, &["chain", "verify", "--json", "bad.json"], None);
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["valid"], false);
    assert_eq!(line["problems"][0]["index"], 1);
    assert_eq!(line["problems"][0]["kind"], "hash-mismatch");
}

#[test]
fn bad_input_is_named_and_never_panics() {
    let dir = workdir("bad");
    kims_chain(&dir, "c.json", &[]);
    ok(
        &dir,
        &[
            "chain",
            "add",
            "c.json",
            "--seed-phrase",
            "kim",
            "--data",
            "{}",
        ],
    );
    let good: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("c.json")).unwrap()).unwrap();

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut with = |name: &'static str, f: &dyn Fn(&mut Value), expected: &'static str| {
        let mut value = good.clone();
        f(&mut value);
        cases.push((name, value.to_string().into_bytes(), expected));
    };
    with(
        "malformed base58",
        &|v| v["events"][0]["previous"] = "l0O".into(),
        "events[0].previous: invalid base58 character 'l' at position 0",
    );
    with(
        "wrong length",
        &|v| v["events"][0]["hash"] = "3mJr7AoUXx2Wqd".into(),
        "events[0].hash: expected 32 bytes, found 10",
    );
    with(
        "unknown key type",
        &|v| v["events"][0]["signKey"]["keyType"] = "ed448".into(),
        "events[0].signKey: keyType: unknown key type \"ed448\"",
    );
    with(
        "missing field",
        &|v| {
            v["events"][0].as_object_mut().unwrap().remove("previous");
        },
        "events[0]: missing field `previous`",
    );
    with(
        "wrong type",
        &|v| v["events"][0]["mediaType"] = json!(["a"]),
        "events[0].mediaType: invalid type: sequence, expected a string",
    );
    with(
        "data too large",
        &|v| v["events"][0]["data"] = "x".repeat(70_000).into(),
        "events[0].data: 70000 bytes, over the 65535",
    );
    cases.push((
        "truncated",
        br#"{"id":"8F94V9UxaX2J66XF7f"#.to_vec(),
        "id: EOF while parsing",
    ));
    cases.push((
        "empty",
        Vec::new(),
        "EOF while parsing a value (line 1, column 0)",
    ));
    cases.push((
        "binary garbage",
        vec![0xff, 0x00, 0x13, 0x37],
        "found something that is not JSON (line 1, column 1)",
    ));
    cases.push((
        "not an object",
        b" [1,2]".to_vec(),
        "a chain is a JSON object {\"id\": …, \"events\": […]}, found an array (line 1, column 2)",
    ));

    for (name, bytes, expected) in cases {
        let output = accord(&dir, &["chain", "verify", "-"], Some(&bytes));
        assert_eq!(output.status.code(), Some(1), "{name}");
        let out = stdout(&output);
        assert!(out.starts_with("<stdin>: UNREADABLE: "), "{name}: {out}");
        assert!(out.contains(expected), "{name}: {out}");

        // Adding to such a chain refuses with the same reason, exit 2.
        let output = accord(
            &dir,
            &["chain", "add", "-", "--seed-phrase", "kim", "--text", "x"],
            Some(&bytes),
        );
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
    }

    // Bad arguments.
    for (args, expected) in [
        (
            vec![
                "chain",
                "add",
                "c.json",
                "--seed-phrase",
                "kim",
                "--data",
                "{nope",
            ],
            "--data is not valid JSON",
        ),
        (
            vec!["chain", "add", "c.json", "--seed-phrase", "", "--text", "x"],
            "the seed phrase is empty",
        ),
        (
            vec!["chain", "add", "c.json", "--text", "x"],
            "no key given",
        ),
        (
            vec!["chain", "add", "c.json", "--seed-phrase", "kim"],
            "no data",
        ),
        (
            vec!["keys", "show", "--private-key", "abc0"],
            "invalid base58 character '0' at position 3",
        ),
        (
            vec!["keys", "show", "--seed-phrase", "x", "--key-type", "rsa"],
            "unknown key type \"rsa\"",
        ),
        (
            vec!["keys", "show", "--seed-phrase", "x", "--network", "TT"],
            "not a network byte",
        ),
        (
            vec![
                "keys",
                "show",
                "--seed-phrase",
                "x",
                "--key-type",
                "secp256k1",
            ],
            "not a valid BIP-39 mnemonic",
        ),
        (
            vec!["chain", "verify", "missing.json"],
            "cannot read missing.json",
        ),
    ] {
        let output = accord(&dir, &args, None);
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert!(all.contains(expected), "{args:?}: {all}");
    }
}

#[test]
fn payloads_encrypted_to_a_key_open_with_it() {
    let dir = workdir("encrypt");
    let shown: Value = serde_json::from_str(&ok(
        &dir,
        &["keys", "show", "--seed-phrase", "mia", "--json"],
    ))
    .unwrap();
    std::fs::write(dir.join("offer.txt"), "42 t at 40 EUR/t").unwrap();
    for (flag, key) in [("--to", "publicKey"), ("--to-encrypt-key", "encryptKey")] {
        let sealed = ok(
            &dir,
            &[
                "keys",
                "encrypt",
                flag,
                shown[key].as_str().unwrap(),
                "offer.txt",
            ],
        );
        let opened = accord(
            &dir,
            &["keys", "decrypt", "--seed-phrase", "mia", "-"],
            Some(sealed.as_bytes()),
        );
        assert!(opened.status.success(), "{}", stderr(&opened));
        assert_eq!(opened.stdout, b"42 t at 40 EUR/t");
        let wrong = accord(
            &dir,
            &["keys", "decrypt", "--seed-phrase", "noah", "-"],
            Some(sealed.as_bytes()),
        );
        assert_eq!(wrong.status.code(), Some(2));
        assert!(
            stderr(&wrong).contains("cannot decrypt"),
            "{}",
            stderr(&wrong)
        );
    }

    // Every key, of every seed: the X25519 key is never mistaken for an ed25519 one (about
    // half of X25519 keys are also valid Edwards encodings, so guessing would go wrong).
    for n in 0..12 {
        let seed = format!("k{n}");
        let shown: Value = serde_json::from_str(&ok(
            &dir,
            &["keys", "show", "--seed-phrase", &seed, "--json"],
        ))
        .unwrap();
        let sealed = ok(
            &dir,
            &[
                "keys",
                "encrypt",
                "--to-encrypt-key",
                shown["encryptKey"].as_str().unwrap(),
                "offer.txt",
            ],
        );
        let opened = accord(
            &dir,
            &["keys", "decrypt", "--seed-phrase", &seed, "-"],
            Some(sealed.as_bytes()),
        );
        assert!(opened.status.success(), "{seed}: {}", stderr(&opened));
    }

    // A small-order key would make a box anyone can read: refused.
    let output = accord(
        &dir,
        &[
            "keys",
            "encrypt",
            "--to-encrypt-key",
            "11111111111111111111111111111111",
            "offer.txt",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("small order"),
        "{}",
        stderr(&output)
    );
    // No recipient: a usage error.
    assert_eq!(
        accord(&dir, &["keys", "encrypt", "offer.txt"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn partial_copies_pass_only_when_allowed() {
    let dir = workdir("partial");
    kims_chain(&dir, "c.json", &["one", "two", "three"]);
    // Cut the copy after event 0: a stub with event 0's hash and the state after it.
    let chain: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("c.json")).unwrap()).unwrap();
    let shown: Value = serde_json::from_slice(
        &accord(
            &dir,
            &["chain", "show", "--json", "--anchors", "c.json"],
            None,
        )
        .stdout,
    )
    .unwrap();
    let mut events = chain["events"].as_array().unwrap().clone();
    let first = events.remove(0);
    events.insert(
        0,
        json!({"hash": first["hash"], "state": shown["anchorMap"][1]["key"]}),
    );
    let partial = json!({"id": chain["id"], "events": events});
    std::fs::write(dir.join("p.json"), partial.to_string()).unwrap();

    let output = accord(&dir, &["chain", "verify", "p.json"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("p.json: PARTIAL: partial v2 chain"),
        "{}",
        stdout(&output)
    );
    let output = accord(
        &dir,
        &["chain", "verify", "--allow-partial", "p.json"],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("p.json: valid: partial v2 chain"));
}

#[test]
fn a_file_that_cannot_be_read_is_an_input_error() {
    let dir = workdir("unread");
    kims_chain(&dir, "c.json", &["x"]);
    let output = accord(&dir, &["chain", "verify", "c.json", "missing.json"], None);
    assert_eq!(output.status.code(), Some(2));
    let out = stdout(&output);
    assert!(out.contains("c.json: valid"), "{out}");
    assert!(
        out.contains("missing.json: CANNOT READ: cannot read missing.json"),
        "{out}"
    );
}

#[test]
fn far_future_timestamps_are_shown_not_panicked_on() {
    let dir = workdir("future");
    kims_chain(&dir, "c.json", &[]);
    // 2^53 - 1 ms is in the year 287,396: RFC 3339 has no way to write it.
    ok(
        &dir,
        &[
            "chain",
            "add",
            "c.json",
            "--seed-phrase",
            "kim",
            "--text",
            "x",
            "--timestamp",
            "9007199254740991",
        ],
    );
    let out = ok(&dir, &["chain", "show", "c.json"]);
    assert!(out.contains("9007199254740991 ms since 1970"), "{out}");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let dir = workdir("pipe");
    kims_chain(&dir, "c.json", &["x"]);
    let files: Vec<&str> = std::iter::repeat_n("c.json", 5000).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .current_dir(&dir)
        .args(["chain", "verify"])
        .args(&files)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe.
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(141), "{stderr}");
}
