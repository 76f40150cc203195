//! `accord chain`: create chains, add signed events, show and verify them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use accord_chain::{
    AnyChain, Chain, ChainId, Draft, LegacyChain, Nonce, Problem, VerifiedChain, Version,
};
use accord_crypto::base58;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::Outcome;
use crate::io::{display_name, read_input, write_output};
use crate::keys::network;
use crate::signer::SignerArgs;

#[derive(Subcommand)]
pub enum ChainCommand {
    /// Create a new, empty chain owned by your key (its id names you as creator). Its first
    /// event, added with `accord chain add`, must be signed by that key.
    New(NewArgs),
    /// Sign an event with your key and add it to a chain.
    Add(AddArgs),
    /// Show a chain: id, format, events, signers, state.
    Show(ShowArgs),
    /// Verify chains: every hash, signature and link, and the genesis signer. Prints a report
    /// per file; exits 0 only when every chain is valid.
    Verify(VerifyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    V1,
    V2,
}

#[derive(Args)]
pub struct NewArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// A text the chain id's nonce is derived from (SHA-256 of it); random when not given.
    #[arg(long)]
    nonce: Option<String>,
    /// The network byte.
    #[arg(long, default_value = "L", value_parser = network)]
    network: u8,
    /// The event format.
    #[arg(long, value_enum, default_value = "v2")]
    format: FormatArg,
    /// Where to write the chain (- for stdout).
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
}

#[derive(Args)]
pub struct AddArgs {
    /// The chain file; - reads stdin and writes stdout. A file is replaced in place unless
    /// --output is given.
    #[arg(default_value = "-")]
    chain: PathBuf,
    #[command(flatten)]
    signer: SignerArgs,
    /// The event's data: JSON text (stored compact, media type application/json).
    #[arg(long, value_name = "JSON", group = "payload")]
    data: Option<String>,
    /// The event's data: the bytes of a file (media type from --media-type, or guessed from
    /// the file name).
    #[arg(long, value_name = "FILE", group = "payload")]
    data_file: Option<PathBuf>,
    /// The event's data: text (media type text/plain).
    #[arg(long, value_name = "TEXT", group = "payload")]
    text: Option<String>,
    /// The media type of the data.
    #[arg(long, value_name = "TYPE")]
    media_type: Option<String>,
    /// Attach a file: NAME=PATH, or PATH (named after the file). Its media type is guessed
    /// from the name; give NAME=PATH;TYPE to set it. Repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    attach: Vec<String>,
    /// The event's timestamp in milliseconds since 1970 (default: now).
    #[arg(long, value_name = "MS")]
    timestamp: Option<u64>,
    /// Where to write the chain (default: back to the chain file, or stdout for stdin).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The chain file (- for stdin).
    #[arg(default_value = "-")]
    chain: PathBuf,
    /// List the anchor map (state, event hash, signer) too.
    #[arg(long)]
    anchors: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Chain files (- for stdin).
    #[arg(required = true)]
    chains: Vec<PathBuf>,
    /// Accept partial copies (that start after the genesis event) when their events verify.
    /// Without it they fail: the events before them, and the chain's creator, are not checked.
    #[arg(long)]
    allow_partial: bool,
    /// Print one JSON object per file.
    #[arg(long)]
    json: bool,
}

pub fn run(command: ChainCommand) -> Result<Outcome> {
    match command {
        ChainCommand::New(args) => new(args),
        ChainCommand::Add(args) => add(args),
        ChainCommand::Show(args) => show(args),
        ChainCommand::Verify(args) => verify(args),
    }
}

fn new(args: NewArgs) -> Result<Outcome> {
    let pair = args.signer.load()?;
    let nonce = match &args.nonce {
        Some(text) => Nonce::from_text(text),
        None => {
            // 20 random bytes, as the reference client does when given no nonce.
            let mut bytes = [0u8; 20];
            getrandom::fill(&mut bytes).context("no randomness for the nonce")?;
            Nonce(bytes)
        }
    };
    let version = match args.format {
        FormatArg::V1 => Version::V1,
        FormatArg::V2 => Version::V2,
    };
    let id = ChainId::new(version, args.network, pair.public_key(), &nonce);
    let json = Chain::new(id).to_json();
    write_output(&args.output, format!("{json}\n").as_bytes())?;
    eprintln!(
        "new {version} chain {id}, created by {}",
        pair.address(args.network)
    );
    Ok(Outcome::Success)
}

fn media_type_of(name: &str) -> &'static str {
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("json") => "application/json",
        Some("pdf") => "application/pdf",
        Some("txt" | "text") => "text/plain",
        Some("md") => "text/markdown",
        Some("csv") => "text/csv",
        Some("xml") => "application/xml",
        Some("yaml" | "yml") => "application/yaml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("html" | "htm") => "text/html",
        _ => "application/octet-stream",
    }
}

fn draft(args: &AddArgs) -> Result<Draft> {
    let mut draft = if let Some(text) = &args.data {
        let value: serde_json::Value =
            serde_json::from_str(text).context("--data is not valid JSON")?;
        let mut draft = Draft::json(&value);
        if let Some(media_type) = &args.media_type {
            draft.media_type = media_type.clone();
        }
        draft
    } else if let Some(path) = &args.data_file {
        let bytes = read_input(path)?;
        let media_type = args
            .media_type
            .clone()
            .unwrap_or_else(|| media_type_of(&path.to_string_lossy()).to_owned());
        Draft::new(media_type, bytes)
    } else if let Some(text) = &args.text {
        Draft::new(
            args.media_type
                .clone()
                .unwrap_or_else(|| "text/plain".into()),
            text.as_bytes(),
        )
    } else {
        bail!("no data: give --data JSON, --data-file FILE or --text TEXT");
    };
    for spec in &args.attach {
        let (spec, media_type) = match spec.rsplit_once(';') {
            Some((spec, media_type)) if media_type.contains('/') => (spec, Some(media_type)),
            _ => (spec.as_str(), None),
        };
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) => (name.to_owned(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(spec);
                let name = path
                    .file_name()
                    .with_context(|| format!("--attach {spec}: no file name"))?
                    .to_string_lossy()
                    .into_owned();
                (name, path)
            }
        };
        let bytes = std::fs::read(&path)
            .with_context(|| format!("--attach: cannot read {}", path.display()))?;
        let media_type = media_type
            .unwrap_or_else(|| media_type_of(&name))
            .to_owned();
        draft = draft.attach(name, media_type, bytes);
    }
    Ok(draft)
}

fn now_ms() -> Result<u64> {
    match accord_node::clock::Clock::system().now_ms() {
        0 => bail!("the system clock is before 1970"),
        ms => Ok(ms),
    }
}

/// Reads a v1/v2 chain and verifies it, for adding to. An empty chain is fine here.
fn read_verified(path: &Path) -> Result<VerifiedChain> {
    let bytes = read_input(path)?;
    let name = display_name(path);
    let chain = match AnyChain::from_json(&bytes).with_context(|| format!("{name}: not a chain"))? {
        AnyChain::Lto(chain) => chain,
        AnyChain::Legacy(_) => {
            bail!("{name}: a legacy (0x40) chain: Accord reads these but does not add to them")
        }
    };
    if chain.events.is_empty() && chain.start.is_none() {
        return Ok(VerifiedChain::new(chain.id));
    }
    chain.verify().map_err(|invalid| {
        anyhow::anyhow!(
            "{name}: the chain is not valid, so nothing is added to it:\n{}",
            invalid.report
        )
    })
}

fn add(args: AddArgs) -> Result<Outcome> {
    let draft = draft(&args)?;
    let pair = args.signer.load()?;
    let mut chain = read_verified(&args.chain)?;
    let timestamp = match args.timestamp {
        Some(ms) => ms,
        None => now_ms()?,
    };
    let hash = chain
        .sign_and_append(draft, &pair, timestamp)
        .context("cannot add the event")?
        .hash();
    let hash = base58::encode(&hash);
    let index = chain.events().len() - 1;
    let output = args.output.unwrap_or_else(|| args.chain.clone());
    write_output(&output, format!("{}\n", chain.to_json()).as_bytes())?;
    eprintln!("added event {index} ({hash}) to chain {}", chain.id());
    Ok(Outcome::Success)
}

/// The last millisecond of 9999, past which RFC 3339 has no four-digit year to write.
const MAX_RFC3339_MS: u64 = 253_402_300_799_999;

fn time(ms: u64) -> String {
    match UNIX_EPOCH.checked_add(Duration::from_millis(ms)) {
        Some(at) if ms <= MAX_RFC3339_MS => humantime::format_rfc3339_millis(at).to_string(),
        _ => format!("{ms} ms since 1970"),
    }
}

fn show(args: ShowArgs) -> Result<Outcome> {
    let bytes = read_input(&args.chain)?;
    let name = display_name(&args.chain);
    let chain = AnyChain::from_json(&bytes).with_context(|| format!("{name}: not a chain"))?;
    let report = chain.validate();
    match &chain {
        AnyChain::Lto(chain) => show_lto(chain, &report, args.anchors, args.json)?,
        AnyChain::Legacy(chain) => show_legacy(chain, &report, args.json),
    }
    Ok(Outcome::Success)
}

fn show_lto(
    chain: &Chain,
    report: &accord_chain::Report,
    anchors: bool,
    as_json: bool,
) -> Result<()> {
    let version = chain.id.version();
    let network = chain.id.network();
    let verified = chain.clone().verify().ok();
    let events: Vec<serde_json::Value> = chain
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            json!({
                "index": index,
                "hash": event.label_hash(version).map(|h| base58::encode(&h)),
                "timestamp": event.timestamp,
                "signer": event.sign_key.map(|k| k.address(network).to_base58()),
                "keyType": event.sign_key.map(|k| k.key_type().name()),
                "mediaType": event.media_type,
                "size": event.data.len(),
                "attachments": event.attachments.iter().map(|a| json!({"name": a.name, "mediaType": a.media_type, "size": a.data.len()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let anchor_map: Option<Vec<serde_json::Value>> = verified.as_ref().map(|v| {
        v.anchor_map()
            .iter()
            .map(|a| json!({"key": base58::encode(&a.key), "value": base58::encode(&a.value), "signer": a.signer.to_base58()}))
            .collect()
    });
    if as_json {
        let mut out = json!({
            "id": chain.id.to_base58(),
            "format": version.to_string(),
            "network": (network as char).to_string(),
            "partial": chain.is_partial(),
            "valid": report.is_valid(),
            "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "events": events,
        });
        if let Some(verified) = &verified {
            out["state"] = base58::encode(&verified.state()).into();
            out["latestHash"] = base58::encode(&verified.latest_hash()).into();
            if anchors {
                out["anchorMap"] = anchor_map.clone().unwrap_or_default().into();
            }
        }
        outln!("{out}");
        return Ok(());
    }
    outln!("chain      {}", chain.id);
    outln!("format     {version}, network {}", network as char);
    if let Some(start) = &chain.start {
        outln!(
            "partial    continues after {} (state {})",
            base58::encode(&start.hash),
            base58::encode(&start.state)
        );
    }
    let signers: BTreeSet<String> = chain
        .events
        .iter()
        .filter_map(|e| e.sign_key.map(|k| k.address(network).to_base58()))
        .collect();
    outln!(
        "events     {} by {} signer(s)",
        chain.events.len(),
        signers.len()
    );
    match &verified {
        Some(v) => {
            outln!("state      {}", base58::encode(&v.state()));
            outln!("valid      yes");
        }
        None => outln!(
            "valid      no, {} problem(s): see `accord chain verify`",
            report.problems.len()
        ),
    }
    for (index, event) in chain.events.iter().enumerate() {
        let hash = event
            .label_hash(version)
            .map_or_else(|| "(unsigned)".to_owned(), |h| base58::encode(&h));
        let signer = event.sign_key.map_or_else(
            || "(unsigned)".to_owned(),
            |k| k.address(network).to_base58(),
        );
        let mut line = format!(
            "  {index:>4}  {hash}  {}  {signer}  {} ({} bytes)",
            time(event.timestamp),
            event.media_type,
            event.data.len()
        );
        for attachment in &event.attachments {
            line.push_str(&format!(
                ", attached {} ({}, {} bytes)",
                attachment.name,
                attachment.media_type,
                attachment.data.len()
            ));
        }
        outln!("{line}");
    }
    if anchors {
        match &verified {
            Some(v) => {
                outln!("anchor map (key = state before the event, value = event hash, signer):");
                for anchor in v.anchor_map() {
                    outln!(
                        "  {}  {}  {}",
                        base58::encode(&anchor.key),
                        base58::encode(&anchor.value),
                        anchor.signer
                    );
                }
            }
            None => outln!("anchor map: not shown, the chain is not valid"),
        }
    }
    Ok(())
}

fn show_legacy(chain: &LegacyChain, report: &accord_chain::Report, as_json: bool) {
    // Each body is decoded once (base58 is slow on long bodies), for its `$schema`.
    let schemas: Vec<Result<Option<String>, String>> = chain
        .events
        .iter()
        .map(|event| {
            event.body_json().map(|body| {
                body.get("$schema")
                    .and_then(|schema| schema.as_str().map(str::to_owned))
            })
        })
        .collect();
    if as_json {
        let events: Vec<serde_json::Value> = chain
            .events
            .iter()
            .zip(&schemas)
            .enumerate()
            .map(|(index, (event, schema))| {
                let mut out = json!({
                    "index": index,
                    "hash": base58::encode(&event.hash),
                    "timestamp": event.timestamp,
                    "signkey": base58::encode(&event.signkey),
                    "rebased": event.original.is_some(),
                });
                match schema {
                    Ok(schema) => out["schema"] = schema.clone().into(),
                    Err(err) => out["bodyError"] = err.clone().into(),
                }
                out
            })
            .collect();
        outln!(
            "{}",
            json!({
                "id": chain.id.to_base58(),
                "format": "legacy",
                "partial": chain.is_partial(),
                "valid": report.is_valid(),
                "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "events": events,
            })
        );
        return;
    }
    outln!(
        "chain      {} (legacy, {:?} id)",
        chain.id,
        chain.id.family()
    );
    if chain.is_partial() {
        outln!("partial    the genesis event is not in this copy");
    }
    outln!("events     {}", chain.events.len());
    if report.is_valid() {
        outln!("valid      yes");
    } else {
        outln!(
            "valid      no, {} problem(s): see `accord chain verify`",
            report.problems.len()
        );
    }
    for (index, (event, schema)) in chain.events.iter().zip(&schemas).enumerate() {
        let schema = match schema {
            Ok(Some(schema)) => schema.clone(),
            Ok(None) => "(no $schema)".to_owned(),
            Err(err) => format!("({err})"),
        };
        let rebased = if event.original.is_some() {
            "  (rebased)"
        } else {
            ""
        };
        outln!(
            "  {index:>4}  {}  {}  {}  {schema}{rebased}",
            base58::encode(&event.hash),
            event.timestamp,
            base58::encode(&event.signkey),
        );
    }
}

fn verify(args: VerifyArgs) -> Result<Outcome> {
    let mut all_valid = true;
    let mut unread = false;
    for path in &args.chains {
        let name = display_name(path);
        // A file that cannot be read is an input error (exit 2); one that reads but is not a
        // chain is an invalid chain (exit 1).
        let bytes = match read_input(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                unread = true;
                if args.json {
                    outln!(
                        "{}",
                        json!({"file": name, "valid": false, "error": format!("{err:#}")})
                    );
                } else {
                    outln!("{name}: CANNOT READ: {err:#}");
                }
                continue;
            }
        };
        let chain = match AnyChain::from_json(&bytes) {
            Ok(chain) => chain,
            Err(err) => {
                all_valid = false;
                if args.json {
                    outln!(
                        "{}",
                        json!({"file": name, "valid": false, "error": err.to_string()})
                    );
                } else {
                    outln!("{name}: UNREADABLE: {err}");
                }
                continue;
            }
        };
        let report = chain.validate();
        let partial = match &chain {
            AnyChain::Lto(chain) => chain.is_partial(),
            AnyChain::Legacy(chain) => chain.is_partial(),
        };
        let accepted = report.is_valid() && (!partial || args.allow_partial);
        all_valid &= accepted;
        let (format, detail) = describe(&chain);
        if args.json {
            let problems: Vec<serde_json::Value> = report
                .problems
                .iter()
                .map(|p| json!({"index": p.index(), "kind": kind(p), "message": p.to_string()}))
                .collect();
            outln!(
                "{}",
                json!({"file": name, "valid": accepted, "partial": partial, "format": format, "id": chain.id(), "events": chain.len(), "problems": problems})
            );
            continue;
        }
        if !report.is_valid() {
            outln!(
                "{name}: INVALID: {} problem(s) in {detail}",
                report.problems.len()
            );
            for problem in &report.problems {
                outln!("  {problem}");
            }
        } else if accepted {
            outln!("{name}: valid: {detail}");
        } else {
            outln!(
                "{name}: PARTIAL: {detail}: its events verify, but it does not start at the genesis event, so the events before it and the chain's creator are not checked (--allow-partial accepts it)"
            );
        }
    }
    Ok(if unread {
        Outcome::Failed
    } else if all_valid {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

fn kind(problem: &Problem) -> &'static str {
    match problem {
        Problem::NoEvents => "no-events",
        Problem::NotSigned { .. } => "not-signed",
        Problem::HashMismatch { .. } => "hash-mismatch",
        Problem::BadSignature { .. } => "bad-signature",
        Problem::BrokenLink { .. } => "broken-link",
        Problem::GenesisNotByCreator { .. } => "genesis-not-by-creator",
        Problem::Malformed { .. } => "malformed",
        Problem::StubState { .. } => "stub-state",
    }
}

fn describe(chain: &AnyChain) -> (&'static str, String) {
    match chain {
        AnyChain::Lto(chain) => {
            let version = chain.id.version();
            let network = chain.id.network();
            let signers: BTreeSet<_> = chain.events.iter().filter_map(|e| e.sign_key).collect();
            let partial = if chain.is_partial() { "partial " } else { "" };
            let format = if version == Version::V1 { "v1" } else { "v2" };
            (
                format,
                format!(
                    "{partial}{version} chain {} (network {}), {} event(s), {} signer(s)",
                    chain.id,
                    network as char,
                    chain.events.len(),
                    signers.len()
                ),
            )
        }
        AnyChain::Legacy(chain) => {
            let signers: BTreeSet<_> = chain.events.iter().map(|e| e.signkey).collect();
            let partial = if chain.is_partial() { "partial " } else { "" };
            (
                "legacy",
                format!(
                    "{partial}legacy chain {}, {} event(s), {} signer(s)",
                    chain.id,
                    chain.events.len(),
                    signers.len()
                ),
            )
        }
    }
}
