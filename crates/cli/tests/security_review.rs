//! Uses issue 14's fixes broke, found in its second review. The quotas: the CLI registered its user's
//! identity again on every `scenario push`, `process start` and `invitation accept`, and each
//! registration takes a token of `identities.register_per_minute` (30 by default) even when it
//! changes nothing, so the 31st such command in a minute failed with 429. And a squatted address id (below). A
//! node in the test's process; the `accord` binary talks to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accord_node::Config;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../examples")
}

fn seed(name: &str) -> String {
    format!("security review test: {name}")
}

/// `accord ARGS` against the node at `url`, as the user `name`.
fn cli(url: &str, name: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("ACCORD_NODE", url)
        .env("ACCORD_SEED_PHRASE", seed(name))
        .env_remove("ACCORD_PASSPHRASE")
        .output()
        .unwrap()
}

#[test]
fn commands_past_the_registration_rate_still_work() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("passphrase");
    std::fs::write(&pass, "security review tests").unwrap();
    // Two registrations a minute, so the third command shows what the 31st does by default.
    let mut config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        passphrase_file: Some(pass),
        ..Config::default()
    };
    config.identities.register_per_minute = 2;
    let node = rt.block_on(accord_node::start(config)).unwrap();
    let url = format!("http://{}", node.addr);
    let file = examples().join("scenarios/document-signing.json");
    let file = file.to_str().unwrap();
    let mut commands: Vec<Vec<&str>> = vec![vec!["scenario", "push", file]; 3];
    for id in ["review-1", "review-2"] {
        commands.push(vec![
            "process",
            "start",
            file,
            "--actor",
            "drafter=me",
            "--actor",
            "reviewer=me",
            "--id",
            id,
        ]);
    }
    for (n, args) in commands.iter().enumerate() {
        let out = cli(&url, "dana", args);
        assert!(
            out.status.success(),
            "command {} ({}) failed: {}\n{}",
            n + 1,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    rt.block_on(node.stop());
}

/// A user's CLI registers its identity under the user's address, which anyone can compute from
/// the public key: whoever registers an identity with that id first (naming only its own key)
/// makes every `scenario push`, `process start` and `invitation accept` of that user fail at
/// the node (403: the id is registered, and the user's key is not one of its keys), until an
/// administrator removed the squatter's identity. Now an id that is an LTO address must name
/// that address's key, so the squat is refused.
#[test]
fn a_squatted_address_id_does_not_lock_the_users_cli_out() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("passphrase");
    std::fs::write(&pass, "security review tests").unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        passphrase_file: Some(pass),
        ..Config::default()
    };
    let node = rt.block_on(accord_node::start(config)).unwrap();
    let url = format!("http://{}", node.addr);
    let victim = accord_crypto::KeyPair::from_seed_phrase(&seed("erin"), 0);
    let squatter = accord_crypto::KeyPair::from_seed_phrase(&seed("mallory"), 0);
    let taken = accord_node::events::identity(
        &victim.public_key().address(b'T').to_string(),
        &squatter.public_key().to_base58(),
        None,
    );
    // The squat is refused: an address id must name its address's key.
    let squat = rt.block_on(
        accord_node::client::Client::new(&url, &squatter)
            .unwrap()
            .post("/identities", taken.to_string()),
    );
    let Err(accord_node::client::ClientError::Problem { status, body, .. }) = squat else {
        panic!("the squat was not refused: {squat:?}");
    };
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["type"], "urn:accord:problem:address-id", "{body}");
    let file = examples().join("scenarios/document-signing.json");
    let out = cli(&url, "erin", &["scenario", "push", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "the victim's push failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(node.stop());
}
