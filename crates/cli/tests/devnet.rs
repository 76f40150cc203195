//! `accord devnet` as a real process: nodes that know each other, an identity per
//! organisation naming its node, the examples loaded, a clean stop on SIGTERM, and the same
//! network back on a second run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use accord_crypto::KeyPair;
use accord_node::client::Client;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// Starts a devnet and reads its summary.
fn devnet(dir: &Path, nodes: usize) -> (Child, Value) {
    let mut child = Command::new(BIN)
        .args(["devnet", "--port", "0", "--json", "--nodes"])
        .arg(nodes.to_string())
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the devnet prints its summary");
    (child, serde_json::from_str(&line).unwrap())
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "the devnet exits cleanly on SIGTERM: {exit}"
    );
}

#[test]
fn a_devnet_starts_knowing_itself_stops_cleanly_and_comes_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (child, summary) = devnet(dir.path(), 2);
    let nodes = summary["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user = |n: usize| {
        let path = dir.path().join(format!("org{n}")).join("user-key.json");
        let store =
            accord_crypto::keystore::Keystore::from_json(&std::fs::read(path).unwrap()).unwrap();
        store.open(b"accord devnet").unwrap().0
    };
    let reader = KeyPair::from_seed_phrase("devnet test reader", 0);
    runtime.block_on(async {
        for (n, node) in nodes.iter().enumerate() {
            let url = node["url"].as_str().unwrap();
            let client = Client::new(url, &reader).unwrap();
            // Each node holds its organisation's identity, naming the node; its user reads it
            // (a registered identity is shown only to the keys it names and administrators).
            let path = format!("/identities/{}", node["identity"].as_str().unwrap());
            let identity = Client::new(url, &user(n + 1))
                .unwrap()
                .get(&path)
                .await
                .unwrap();
            assert_eq!(identity["node"], node["node_key"]);
            assert_eq!(identity["signkeys"]["user"], node["user_key"]);
            let hidden = client.get(&path).await.unwrap_err();
            assert_eq!(hidden.status(), Some(404), "{hidden}");
            let scenario = client
                .get("/scenarios/accord-example-biomass")
                .await
                .unwrap();
            assert_eq!(scenario["id"], "accord-example-biomass");
        }
    });
    // The nodes know each other: a chain started at org1 naming org2's node reaches it.
    let (one, two) = (user(1), user(2));
    let identity = |org: usize, key: &KeyPair| {
        accord_node::events::identity_at(
            &format!("org{org}-user"),
            &key.public_key().to_base58(),
            nodes[org - 1]["node_key"].as_str().unwrap(),
        )
    };
    let bodies = [identity(1, &one), identity(2, &two)];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &one)).collect();
    let chain = accord_node::events::new_chain(
        &one,
        b'T',
        &accord_chain::Nonce::from_text("devnet"),
        &signed,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    )
    .unwrap();
    let id = chain.id().to_base58();
    runtime.block_on(async {
        Client::new(nodes[0]["url"].as_str().unwrap(), &one)
            .unwrap()
            .post("/event-chains", chain.to_json())
            .await
            .unwrap();
        let at_two = Client::new(nodes[1]["url"].as_str().unwrap(), &two).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let head = at_two.get(&format!("/event-chains/{id}/head")).await;
            if head.is_ok_and(|h| h["length"] == 2) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "org2's node never got the chain"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // Through the CLI: org1's user starts a process with org2's user as reviewer, at org2's
    // node; each acts at their own node.
    let cli = |org: usize, args: &[&str]| cli_at(&summary, org, args);
    let reviewer = format!(
        "reviewer={}@{}",
        nodes[1]["user_key"].as_str().unwrap(),
        nodes[1]["node_key"].as_str().unwrap()
    );
    let (ok, out) = cli(
        1,
        &[
            "process",
            "start",
            "accord-example-document-signing",
            "--actor",
            "drafter=me",
            "--actor",
            &reviewer,
            "--id",
            "doc-across",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(1, &["process", "act", "doc-across", "request_review"]);
    assert!(ok, "{out}");
    until_next_shows(&summary, 2, "doc-across", "reviewer may: review");
    let (ok, out) = cli(
        2,
        &[
            "process",
            "act",
            "doc-across",
            "review",
            "--response",
            "accept",
        ],
    );
    assert!(ok, "{out}");
    until_next_shows(&summary, 1, "doc-across", "drafter may: sign_a");
    assert_ne!(nodes[0]["node_key"], nodes[1]["node_key"]);
    assert_ne!(nodes[0]["user_key"], nodes[1]["user_key"]);
    stop(child);

    // The same directory: the same keys.
    let (child, again) = devnet(dir.path(), 2);
    for (before, after) in nodes.iter().zip(again["nodes"].as_array().unwrap()) {
        assert_eq!(before["node_key"], after["node_key"]);
        assert_eq!(before["user_key"], after["user_key"]);
    }
    stop(child);
}

#[test]
fn a_devnet_refuses_impossible_sizes() {
    let out = Command::new(BIN)
        .args(["devnet", "--nodes", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nodes must be between 1 and 16"));
}

/// Runs the CLI as organisation `org`'s user against its node.
fn cli_at(summary: &Value, org: usize, args: &[&str]) -> (bool, String) {
    let node = &summary["nodes"][org - 1];
    let out = Command::new(BIN)
        .args(args)
        .arg("--node")
        .arg(node["url"].as_str().unwrap())
        .arg("--keystore")
        .arg(node["keystore"].as_str().unwrap())
        .arg("--passphrase-file")
        .arg(summary["passphrase_file"].as_str().unwrap())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Runs `accord process next` at `org` until its output shows `what` (20 s at most).
fn until_next_shows(summary: &Value, org: usize, process: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (ok, out) = cli_at(summary, org, &["process", "next", process]);
        if ok && out.contains(what) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "org{org} never showed {what:?}: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_invitation_made_at_one_node_is_accepted_through_another() {
    let dir = tempfile::tempdir().unwrap();
    let (child, summary) = devnet(&dir.path().join("net"), 2);
    let invitations = dir.path().join("invitations");
    let start = || {
        cli_at(
            &summary,
            1,
            &[
                "process",
                "start",
                "accord-example-document-signing",
                "--actor",
                "drafter=me",
                "--invite",
                "reviewer",
                "--invitations",
                invitations.to_str().unwrap(),
                "--id",
                "doc-invited",
            ],
        )
    };
    // Nowhere to write the invitation: the process is not started.
    let (ok, out) = start();
    assert!(!ok && out.contains("not a directory"), "{out}");
    let (ok, out) = cli_at(&summary, 1, &["process", "show", "doc-invited"]);
    assert!(!ok, "{out}");
    std::fs::create_dir_all(&invitations).unwrap();
    // org1's user starts document signing, inviting a reviewer whose key it does not know.
    let (ok, out) = start();
    assert!(ok, "{out}");
    let file = invitations.join("invitation-doc-invited-reviewer.json");
    assert!(out.contains(&file.display().to_string()), "{out}");
    let invitation: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(invitation["type"], "accord-invitation-v1");
    assert_eq!(invitation["node"], summary["nodes"][0]["node_key"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read an invitation");
    }
    // Before it is accepted, org2's node holds nothing of the process.
    let (ok, out) = cli_at(&summary, 2, &["process", "show", "doc-invited"]);
    assert!(!ok, "{out}");

    // org2's user accepts it through org2's node.
    let (ok, out) = cli_at(
        &summary,
        2,
        &["invitation", "accept", file.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("you are reviewer in process doc-invited"),
        "{out}"
    );
    let (ok, out) = cli_at(
        &summary,
        2,
        &["invitation", "accept", file.to_str().unwrap()],
    );
    // Again (as after an answer lost on the way): done already, nothing changes.
    assert!(ok, "a second acceptance by the same user: {out}");
    assert!(
        out.contains("you are reviewer in process doc-invited"),
        "{out}"
    );

    // The process runs between the two organisations' nodes.
    let (ok, out) = cli_at(
        &summary,
        1,
        &["process", "act", "doc-invited", "request_review"],
    );
    assert!(ok, "{out}");
    until_next_shows(&summary, 2, "doc-invited", "reviewer may: review");
    let (ok, out) = cli_at(
        &summary,
        2,
        &[
            "process",
            "act",
            "doc-invited",
            "review",
            "--response",
            "accept",
        ],
    );
    assert!(ok, "{out}");
    until_next_shows(&summary, 1, "doc-invited", "drafter may: sign_a");
    stop(child);
}

/// `accord bench devnet` on tiny numbers: every action is applied on all three nodes, every
/// chain ends the same everywhere, and the rows say so. No timing is checked.
#[test]
fn bench_devnet_smoke_run_applies_every_action_on_all_three_nodes() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "devnet",
            "--actions",
            "60",
            "--clients",
            "1,2",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["nodes"], 3);
    for (table, mode_field) in [("devnet", "nodes"), ("one_node", "mode")] {
        let rows = report[table].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{table}: {report}");
        for (row, clients) in rows.iter().zip([1, 2]) {
            assert_eq!(row["clients"], clients, "{table}: {row}");
            assert_eq!(row["actions"], 60, "{table}: {row}");
            assert!(!row[mode_field].is_null(), "{table}: {row}");
            for field in [
                "seconds",
                "actions_per_second",
                "p50_ms",
                "p99_ms",
                "max_ms",
            ] {
                assert!(
                    row[field].as_f64().is_some_and(|v| v >= 0.0),
                    "{field}: {row}"
                );
            }
        }
    }
    // Biomass has 11 accepted steps: one client walks 6 processes for 60 actions, two walk 3
    // each; and every client walks one more as its warm-up.
    assert_eq!(
        report["chains_identical_on_every_node"],
        6 + 1 + 2 * (3 + 1)
    );
    assert!(report["paper_actions_per_second"].as_f64().is_some());
}
