//! `accord bench`: benchmarks that measure what they compare in one run, on one machine.
//!
//! `accord bench chain` builds a chain, writes it to a file, and times verifying that file by
//! (a) Accord, from the file's bytes to the report; (b) the floor: ed25519-dalek's plain
//! one-signature check over the same signatures, with keys and messages prepared beforehand;
//! (c) Accord's signature check alone (batched) over the same prepared inputs; and (d) the
//! reference client (`EventChain.from(json).validate()` in Node.js) on the same file.

pub mod devnet;
pub mod node;
pub mod scenario;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use accord_chain::{AnyChain, Chain, ChainId, Draft, Nonce, VerifiedChain, Version};
use accord_crypto::{KeyPair, SignatureCheck, verify_all};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ed25519_dalek::Verifier as _;
use serde_json::json;

use crate::Outcome;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Verifying a chain: Accord, the raw signature checks (the floor), and the reference
    /// client, on the same file in the same run.
    Chain(ChainArgs),
    /// The engine: biomass processes stepped per second, and replay of long histories (the
    /// cost of a step as the history grows).
    Scenario(crate::bench::scenario::ScenarioArgs),
    /// One node's HTTP API: biomass actions per second and latency, sequential and with
    /// concurrent clients, beside the signature floor and the ID-Service paper's figure.
    Node(crate::bench::node::NodeBenchArgs),
    /// Three nodes on loopback: biomass actions per second applied on all three, and the
    /// latency until the last holds each, beside one node alone and the ID-Service paper's
    /// figure.
    Devnet(crate::bench::devnet::DevnetBenchArgs),
}

#[derive(Args)]
pub struct ChainArgs {
    /// Events in the chain.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Distinct signers, taking turns (the first is the creator).
    #[arg(long, default_value_t = 3)]
    signers: usize,
    /// Timed runs of each measurement (the median is reported; the reference runs once).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The directory of the interop harness (tests/interop, with its npm packages
    /// installed). Default: $ACCORD_REFERENCE_DIR, else ./tests/interop.
    #[arg(long, value_name = "DIR")]
    reference: Option<PathBuf>,
    /// Do not run the reference client.
    #[arg(long)]
    no_reference: bool,
    /// Keep the chain file here instead of a temporary file.
    #[arg(long, value_name = "FILE")]
    keep: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_runs(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        samples.push(start.elapsed());
    }
    Ok(median(samples))
}

/// Builds a chain of `events` events with JSON payloads of the size a workflow step has.
pub fn build_chain(events: usize, signers: usize) -> Result<VerifiedChain> {
    let keys: Vec<KeyPair> = (0..signers.max(1))
        .map(|n| KeyPair::from_seed_phrase(&format!("accord bench signer {n}"), 0))
        .collect();
    let id = ChainId::new(
        Version::V2,
        b'T',
        keys[0].public_key(),
        &Nonce::from_text("accord bench chain"),
    );
    let mut chain = VerifiedChain::new(id);
    let start = 1_700_000_000_000u64;
    for i in 0..events {
        let payload = json!({
            "$schema": accord_engine::bodies::RESPONSE_SCHEMA,
            "action": {"key": "review"},
            "key": "ok",
            "actor": {"key": format!("party{}", i % keys.len())},
            "data": {"step": i, "amount": i * 7, "note": "delivered as agreed"},
        });
        chain
            .sign_and_append(
                Draft::json(&payload),
                &keys[i % keys.len()],
                start + i as u64,
            )
            .context("building the bench chain")?;
    }
    Ok(chain)
}

struct Prepared {
    messages: Vec<Vec<u8>>,
    keys: Vec<accord_crypto::PublicKey>,
    signatures: Vec<accord_crypto::Signature>,
}

fn prepare(chain: &Chain) -> Result<Prepared> {
    let version = chain.id.version();
    let mut prepared = Prepared {
        messages: Vec::with_capacity(chain.events.len()),
        keys: Vec::with_capacity(chain.events.len()),
        signatures: Vec::with_capacity(chain.events.len()),
    };
    for event in &chain.events {
        prepared.messages.push(event.to_binary(version)?);
        prepared
            .keys
            .push(event.sign_key.context("unsigned event")?);
        prepared
            .signatures
            .push(event.signature.context("unsigned event")?);
    }
    Ok(prepared)
}

fn reference_dir(args: &ChainArgs) -> Option<PathBuf> {
    if args.no_reference {
        return None;
    }
    args.reference
        .clone()
        .or_else(|| std::env::var_os("ACCORD_REFERENCE_DIR").map(PathBuf::from))
        .or_else(|| {
            let local = PathBuf::from("tests/interop");
            local.join("ref.mjs").exists().then_some(local)
        })
}

struct ReferenceResult {
    parse: Duration,
    validate: Duration,
    version: String,
}

fn run_reference(dir: &Path, file: &Path) -> Result<ReferenceResult> {
    if !dir.join("node_modules/@ltonetwork/lto").exists() {
        bail!(
            "the reference client is not installed in {} (run `npm ci` there, or scripts/test once)",
            dir.display()
        );
    }
    let file = std::fs::canonicalize(file)?;
    let output = Command::new("node")
        .current_dir(dir)
        .args(["--import", "./register.mjs", "ref.mjs", "bench"])
        .arg(&file)
        .output()
        .context("cannot run node")?;
    if !output.status.success() {
        bail!(
            "the reference client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("the reference harness printed no JSON")?;
    if result["valid"] != true {
        bail!(
            "the reference client rejected the chain: {}",
            result["error"]
        );
    }
    let ms = |key: &str| Duration::from_secs_f64(result[key].as_f64().unwrap_or(0.0) / 1000.0);
    Ok(ReferenceResult {
        parse: ms("parseMs"),
        validate: ms("validateMs"),
        version: result["version"].as_str().unwrap_or("?").to_owned(),
    })
}

pub fn run(command: BenchCommand) -> Result<Outcome> {
    match command {
        BenchCommand::Chain(args) => chain(args),
        BenchCommand::Scenario(args) => crate::bench::scenario::run(args),
        BenchCommand::Node(args) => crate::bench::node::run(args),
        BenchCommand::Devnet(args) => crate::bench::devnet::run(args),
    }
}

fn rate(events: usize, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

fn chain(args: ChainArgs) -> Result<Outcome> {
    let n = args.events;
    if n == 0 {
        bail!("--events must be at least 1");
    }
    eprintln!(
        "building a chain of {n} events by {} signers…",
        args.signers.max(1)
    );
    let built = build_chain(n, args.signers)?;
    let json = built.to_json();
    let file = match &args.keep {
        Some(path) => {
            std::fs::write(path, &json)
                .with_context(|| format!("cannot write {}", path.display()))?;
            path.clone()
        }
        None => {
            let (mut file, path) =
                crate::io::create_temp(&std::env::temp_dir(), "accord-bench-chain")?;
            std::io::Write::write_all(&mut file, json.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            path
        }
    };
    let bytes = std::fs::read(&file)?;
    eprintln!(
        "chain file: {} ({:.1} MB)",
        file.display(),
        bytes.len() as f64 / 1e6
    );

    // (a) Accord, from the file's bytes to the report.
    let accord = time_runs(args.runs, || {
        let chain = AnyChain::from_json(&bytes)?;
        let report = chain.validate();
        if !report.is_valid() {
            bail!("Accord rejected the bench chain: {report}");
        }
        Ok(())
    })?;
    let parse_only = time_runs(args.runs, || {
        AnyChain::from_json(&bytes)?;
        Ok(())
    })?;

    // (b) The floor: one plain ed25519 check per signature, nothing else.
    let chain = Chain::from_json(&bytes)?;
    let prepared = prepare(&chain)?;
    let mut dalek_keys = std::collections::HashMap::new();
    for key in &prepared.keys {
        dalek_keys.entry(*key).or_insert_with(|| {
            let bytes: [u8; 32] = key.as_bytes().try_into().unwrap_or([0; 32]);
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        });
    }
    let dalek_sigs: Vec<ed25519_dalek::Signature> = prepared
        .signatures
        .iter()
        .map(|s| ed25519_dalek::Signature::from_bytes(s.as_bytes()))
        .collect();
    let floor = time_runs(args.runs, || {
        for ((message, key), signature) in prepared
            .messages
            .iter()
            .zip(&prepared.keys)
            .zip(&dalek_sigs)
        {
            let key = dalek_keys[key]
                .as_ref()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            key.verify(message, signature)
                .map_err(|_| anyhow::anyhow!("a bench signature failed the floor check"))?;
        }
        Ok(())
    })?;

    // (c) Accord's signature checks alone, batched, over the same prepared inputs.
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
    let batched = time_runs(args.runs, || {
        let failed = verify_all(&checks);
        if !failed.is_empty() {
            bail!("{} bench signatures failed", failed.len());
        }
        Ok(())
    })?;

    // (d) The reference client.
    let reference = match reference_dir(&args) {
        Some(dir) => {
            eprintln!("running the reference client in {}…", dir.display());
            Some(run_reference(&dir, &file))
        }
        None => None,
    };
    if args.keep.is_none() {
        let _ = std::fs::remove_file(&file);
    }

    let accord_rate = rate(n, accord);
    let floor_rate = rate(n, floor);
    let batch_rate = rate(n, batched);
    let reference_rate = match &reference {
        Some(Ok(r)) => Some(rate(n, r.parse + r.validate)),
        _ => None,
    };
    if args.json {
        let mut out = json!({
            "events": n,
            "signers": args.signers.max(1),
            "fileBytes": bytes.len(),
            "accord": {"seconds": accord.as_secs_f64(), "eventsPerSecond": accord_rate, "parseSeconds": parse_only.as_secs_f64()},
            "floor": {"seconds": floor.as_secs_f64(), "eventsPerSecond": floor_rate},
            "accordSignaturesOnly": {"seconds": batched.as_secs_f64(), "eventsPerSecond": batch_rate},
            "accordOverFloor": accord_rate / floor_rate,
        });
        match &reference {
            Some(Ok(r)) => {
                out["reference"] = json!({
                    "version": r.version,
                    "parseSeconds": r.parse.as_secs_f64(),
                    "validateSeconds": r.validate.as_secs_f64(),
                    "eventsPerSecond": reference_rate,
                });
                out["accordOverReference"] = reference_rate.map(|r| accord_rate / r).into();
            }
            Some(Err(err)) => out["reference"] = json!({"error": err.to_string()}),
            None => {}
        }
        outln!("{out}");
    } else {
        outln!(
            "verifying a {n}-event chain ({:.1} MB of JSON, {} signers), median of {} runs:",
            bytes.len() as f64 / 1e6,
            args.signers.max(1),
            args.runs.max(1)
        );
        outln!("  {:<52} {:>10} {:>14}", "", "seconds", "events/s");
        let row = |name: &str, took: Duration, r: f64| {
            outln!("  {name:<52} {:>10.3} {:>14.0}", took.as_secs_f64(), r);
        };
        row(
            "Accord (read JSON, hash, link, batch-verify, report)",
            accord,
            accord_rate,
        );
        row(
            "  of which reading the JSON",
            parse_only,
            rate(n, parse_only),
        );
        row(
            "floor: ed25519-dalek verify, one signature at a time",
            floor,
            floor_rate,
        );
        row(
            "Accord's batched signature checks alone",
            batched,
            batch_rate,
        );
        match &reference {
            Some(Ok(r)) => row(
                &format!("reference client @ltonetwork/lto {} (Node.js)", r.version),
                r.parse + r.validate,
                reference_rate.unwrap_or(0.0),
            ),
            Some(Err(err)) => outln!("  reference client: not run: {err}"),
            None => outln!("  reference client: not run (no harness found; see --reference)"),
        }
        outln!(
            "Accord / floor: {:.2}x (target at least 0.8x)",
            accord_rate / floor_rate
        );
        if let Some(reference_rate) = reference_rate {
            outln!(
                "Accord / reference: {:.1}x (target at least 20x)",
                accord_rate / reference_rate
            );
        }
    }
    match reference {
        Some(Err(err)) => Err(err.context("the reference client part of the benchmark failed")),
        _ => Ok(Outcome::Success),
    }
}
