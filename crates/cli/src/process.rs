//! Commands against a running node: `accord process start|act|show|next` and
//! `accord scenario push`. Every request is signed with the user's key.

use std::path::{Path, PathBuf};

use accord_chain::{ChainId, Nonce};
use accord_crypto::{KeyPair, base58};
use accord_node::client::{Client, ClientError};
use accord_node::events;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::Outcome;
use crate::signer::SignerArgs;

/// Which node, and who is asking.
#[derive(Args)]
pub struct NodeClientArgs {
    /// The node's URL.
    #[arg(
        long,
        value_name = "URL",
        env = "ACCORD_NODE",
        default_value = "http://127.0.0.1:4000"
    )]
    pub node: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Print the node's JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl NodeClientArgs {
    fn connect(&self) -> Result<(Client, KeyPair)> {
        let key = self.signer.load()?;
        let client = Client::new(&self.node, &key)?;
        Ok((client, key))
    }
}

#[derive(Subcommand)]
pub enum ProcessCommand {
    /// Start a process on the node: a new chain with the scenario, one identity per actor
    /// and the process start, signed with your key.
    Start {
        /// The scenario: a file (.json, .yaml), or the id of a scenario stored on the node.
        scenario: String,
        /// Bind an actor to a key: ACTOR=KEY (a base58 public key) or ACTOR=me (your key, held
        /// at the node you talk to). ACTOR=KEY@NODE also names the node that holds that key
        /// (its key, or its URL as the nodes' `peers` list it), so the process reaches it.
        /// Repeat for each actor.
        #[arg(long = "actor", value_name = "ACTOR=KEY[@NODE]")]
        actors: Vec<String>,
        /// Invite someone whose key you do not know as ACTOR: the process gets an identity
        /// with a one-time key, and an invitation file holding that key is written (see
        /// `--invitations`). Send the file over a channel you trust; its holder accepts it
        /// through their own node (`accord invitation accept`), replacing the one-time key
        /// with their own. Until then, whoever holds the file acts as ACTOR. Repeatable.
        #[arg(long = "invite", value_name = "ACTOR")]
        invites: Vec<String>,
        /// Where invitation files go (`invitation-<process>-<actor>.json`).
        #[arg(long, value_name = "DIR", default_value = ".")]
        invitations: PathBuf,
        /// The process id (default: random).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        client: NodeClientArgs,
    },
    /// Respond to an action of a process, signed with your key.
    Act {
        /// The process id.
        process: String,
        #[command(flatten)]
        chain: ChainArg,
        /// The action.
        action: String,
        /// The response key (default: the action's default response).
        #[arg(long)]
        response: Option<String>,
        /// The response data: JSON text, or @FILE.
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        /// Act for a user whose key the node holds (see `accord custody`): the node builds and
        /// signs the event with that key; your key signs the request, as one of its
        /// controllers or an administrator.
        #[arg(long = "for", value_name = "KEY")]
        for_key: Option<String>,
        #[command(flatten)]
        client: NodeClientArgs,
    },
    /// Show a process: its state, its actors and what is open to whom.
    Show {
        /// The process id.
        process: String,
        #[command(flatten)]
        chain: ChainArg,
        #[command(flatten)]
        client: NodeClientArgs,
    },
    /// What may happen next in a process: the actions open to each actor, the expected path.
    Next {
        /// The process id.
        process: String,
        #[command(flatten)]
        chain: ChainArg,
        #[command(flatten)]
        client: NodeClientArgs,
    },
}

/// Which chain's process: a process is addressed by its chain and its id.
#[derive(Args)]
pub struct ChainArg {
    /// The chain holding the process (base58 id). Needed only when chains you may read hold
    /// more than one process with this id: the node then names them.
    #[arg(long, value_name = "CHAIN")]
    chain: Option<String>,
}

impl ChainArg {
    /// The query naming the chain (`?chain=…`, or nothing), the chain checked to be a chain
    /// id first.
    fn query(&self) -> Result<String> {
        match &self.chain {
            None => Ok(String::new()),
            Some(chain) => {
                let id: ChainId = chain
                    .parse()
                    .map_err(|e| anyhow!("--chain {chain:?} is not a chain id: {e}"))?;
                Ok(format!("?chain={}", id.to_base58()))
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Turns a node's problem into an error that says what the node said.
fn problem(err: ClientError) -> anyhow::Error {
    match &err {
        ClientError::Problem { body, .. } => {
            let mut message = err.to_string();
            if let Some(diags) = body.get("diagnostics").and_then(Value::as_array) {
                for d in diags {
                    message.push_str(&format!(
                        "\n  {}: {}[{}]: {}",
                        d["pointer"]
                            .as_str()
                            .filter(|p| !p.is_empty())
                            .unwrap_or("/"),
                        d["severity"].as_str().unwrap_or(""),
                        d["code"].as_str().unwrap_or(""),
                        d["message"].as_str().unwrap_or("")
                    ));
                }
            }
            match err.kind() {
                // Several chains hold a process with this id: name them, and the way out.
                Some("urn:accord:problem:ambiguous-process") => {
                    let chains: Vec<&str> = body["chains"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    message.push_str("\n  the process id is on these chains:");
                    for chain in &chains {
                        message.push_str(&format!("\n    {chain}"));
                    }
                    message.push_str("\n  name one with --chain CHAIN");
                }
                Some("urn:accord:problem:process-exists") => {
                    message.push_str(&format!(
                        "\n  process {} exists on this node already: choose another --id (no chain was created)",
                        body["process"].as_str().unwrap_or("?")
                    ));
                }
                _ => {}
            }
            anyhow!(message)
        }
        _ => anyhow!(err),
    }
}

/// Registers an identity for the user's own key (its id: the key's address), so the node lets
/// the user start chains and store scenarios, unless the node holds it already: a registration
/// counts against the node's `identities.register_per_minute` even when it changes nothing, so
/// registering on every command would refuse the 31st command of a minute (429). The identity
/// is shown only to the keys it names (and administrators), so finding it means it is this
/// user's.
async fn register_self(c: &Client, me: &KeyPair) -> Result<(), ClientError> {
    let key = me.public_key();
    let id = key.address(b'T').to_string();
    match c.get(&format!("/identities/{id}")).await {
        Ok(_) => return Ok(()),
        Err(e) if e.status() == Some(404) => {}
        Err(e) => return Err(e),
    }
    let own = events::identity(&id, &key.to_base58(), None);
    c.post("/identities", own.to_string()).await.map(|_| ())
}

fn now_ms() -> u64 {
    accord_node::clock::Clock::system().now_ms()
}

fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no randomness: {e}"))?;
    Ok(base58::encode(&bytes))
}

/// `accord scenario push`: check locally, then store on the node.
pub fn push(file: &Path, client: &NodeClientArgs) -> Result<Outcome> {
    let text = crate::load::read_text(file)?;
    let format = crate::load::format_of(file, &text, None);
    let content_type = match format {
        accord_scenario::Format::Yaml => "application/yaml",
        accord_scenario::Format::Json => "application/json",
    };
    let (c, me) = client.connect()?;
    let answer = runtime()?
        .block_on(async {
            register_self(&c, &me).await?;
            c.call(
                "POST",
                "/scenarios",
                Some((content_type, text.into_bytes())),
            )
            .await
        })
        .map_err(problem)
        .with_context(|| format!("cannot push {}", file.display()))?;
    if client.json {
        outln!("{answer}");
    } else {
        let created = answer["created"].as_bool().unwrap_or(false);
        outln!(
            "{} scenario {}",
            if created { "stored" } else { "already stored:" },
            answer["id"].as_str().unwrap_or("?")
        );
        for w in answer["warnings"].as_array().into_iter().flatten() {
            outln!(
                "  warning[{}] {}: {}",
                w["code"].as_str().unwrap_or(""),
                w["pointer"].as_str().unwrap_or(""),
                w["message"].as_str().unwrap_or("")
            );
        }
    }
    Ok(Outcome::Success)
}

pub fn run(command: ProcessCommand) -> Result<Outcome> {
    match command {
        ProcessCommand::Start {
            scenario,
            actors,
            invites,
            invitations,
            id,
            client,
        } => start(
            &scenario,
            &actors,
            &Invites {
                actors: invites,
                dir: invitations,
            },
            id,
            &client,
        ),
        ProcessCommand::Act {
            process,
            chain,
            action,
            response,
            data,
            for_key,
            client,
        } => act(
            &process,
            &chain,
            &action,
            response.as_deref(),
            data.as_deref(),
            for_key.as_deref(),
            &client,
        ),
        ProcessCommand::Show {
            process,
            chain,
            client,
        } => show(&process, &chain, &client),
        ProcessCommand::Next {
            process,
            chain,
            client,
        } => next(&process, &chain, &client),
    }
}

/// Actors to invite, and where their invitation files go.
struct Invites {
    actors: Vec<String>,
    dir: PathBuf,
}

/// What an invitation file holds (docs/design/api.md, "Invitations").
#[derive(serde::Serialize, serde::Deserialize)]
struct Invitation {
    /// Always [`INVITATION`].
    #[serde(rename = "type")]
    kind: String,
    process: String,
    chain: String,
    actor: String,
    identity: String,
    /// The inviting node's key.
    node: String,
    /// The inviting node's URL, as the inviter reached it (for people; nodes use `node`).
    url: String,
    /// The one-time key's ed25519 seed, base58.
    key: String,
}

const INVITATION: &str = "accord-invitation-v1";

fn start(
    scenario: &str,
    actors: &[String],
    invites: &Invites,
    id: Option<String>,
    args: &NodeClientArgs,
) -> Result<Outcome> {
    let (c, me) = args.connect()?;
    let rt = runtime()?;
    let doc = if Path::new(scenario).exists() {
        let (_, text, format) = crate::load::load_checked(&PathBuf::from(scenario))?;
        accord_scenario::doc::parse(&text, format).map_err(|e| anyhow!("{scenario}: {e}"))?
    } else {
        rt.block_on(c.get(&format!("/scenarios/{scenario}")))
            .map_err(problem)
            .with_context(|| format!("{scenario} is not a file, nor a scenario on the node"))?
    };
    let verdict = accord_engine::judge(&doc);
    let Some(compiled) = verdict.compiled else {
        bail!("the scenario has errors (run `accord scenario check`)");
    };
    let model = &compiled.scenario;
    let scenario_id = model.id.clone().unwrap_or_else(|| {
        base58::encode(&accord_crypto::hash::sha256(doc.to_string().as_bytes()))
    });
    let network = b'T';
    let my_key = me.public_key().to_base58();
    // The node this command talks to holds "me".
    let this_node = rt
        .block_on(c.get("/readyz"))
        .ok()
        .and_then(|r| r["node"].as_str().map(String::from));
    let mut bindings = Vec::new();
    let mut identities: Vec<(String, String, Option<String>)> = Vec::new();
    for spec in actors {
        let (actor, key) = spec.split_once('=').ok_or_else(|| {
            anyhow!("--actor {spec:?}: write ACTOR=KEY, ACTOR=KEY@NODE or ACTOR=me")
        })?;
        let (key, node) = match key.split_once('@') {
            Some((key, node)) if !node.is_empty() => (key, Some(node.to_string())),
            Some(_) => bail!("--actor {spec:?}: name a node after the @"),
            None if key == "me" => (key, this_node.clone()),
            None => (key, None),
        };
        if !model.actors.contains_key(actor) {
            bail!(
                "--actor {spec:?}: the scenario has no actor `{actor}` (it has: {})",
                model.actors.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let key = if key == "me" {
            my_key.clone()
        } else {
            key.to_string()
        };
        let public = accord_crypto::PublicKey::from_base58(accord_crypto::KeyType::Ed25519, &key)
            .map_err(|e| anyhow!("--actor {spec:?}: {e}"))?;
        let identity_id = public.address(network).to_string();
        if !identities.iter().any(|(i, _, _)| *i == identity_id) {
            identities.push((identity_id.clone(), key.clone(), node));
        }
        bindings.push((actor.to_string(), identity_id));
    }
    // Invited actors: an identity with a one-time key and no node, until the invitee replaces
    // both through its own node.
    let mut one_time = Vec::new();
    for actor in &invites.actors {
        if !model.actors.contains_key(actor.as_str()) {
            bail!(
                "--invite {actor}: the scenario has no actor `{actor}` (it has: {})",
                model.actors.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if bindings.iter().any(|(a, _)| a == actor) {
            bail!("--invite {actor}: {actor} is bound with --actor already");
        }
        if this_node.is_none() {
            bail!(
                "--invite {actor}: the node at {} did not say its key (GET /readyz); an invitation names the inviting node",
                args.node
            );
        }
        let key = KeyPair::generate(accord_crypto::KeyType::Ed25519)
            .map_err(|e| anyhow!("no randomness for a one-time key: {e}"))?;
        let public = key.public_key().to_base58();
        let identity_id = key.public_key().address(network).to_string();
        identities.push((identity_id.clone(), public, None));
        bindings.push((actor.clone(), identity_id.clone()));
        one_time.push((actor.clone(), identity_id, key));
    }
    let pid = match id {
        Some(id) => id,
        None => random_id()?,
    };
    // Where each invitation goes, checked before the process starts: an invitation that
    // cannot be written would leave an actor no one can take.
    let invitation_path = |actor: &str| invites.dir.join(format!("invitation-{pid}-{actor}.json"));
    for (actor, _, _) in &one_time {
        let path = invitation_path(actor);
        if !invites.dir.is_dir() {
            bail!("--invitations {}: not a directory", invites.dir.display());
        }
        if path.exists() {
            bail!(
                "{} exists already; an invitation is never overwritten",
                path.display()
            );
        }
    }
    let mut bodies = vec![events::scenario(doc, &scenario_id)];
    for (identity_id, key, node) in &identities {
        bodies.push(match node {
            Some(node) => events::identity_at(identity_id, key, node),
            None => events::identity(identity_id, key, None),
        });
    }
    bodies.push(events::process(&pid, &scenario_id, &bindings));
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &me)).collect();
    let mut nonce = [0u8; 20];
    getrandom::fill(&mut nonce).map_err(|e| anyhow!("no randomness: {e}"))?;
    let chain = events::new_chain(&me, network, &Nonce(nonce), &signed, now_ms())
        .map_err(|e| anyhow!("cannot build the chain: {e}"))?;
    // The invitations are written before the process starts: if the node's answer is lost
    // after it took the chain, the one-time keys are still on disk. A refusal removes them.
    let mut files = Vec::new();
    for (actor, identity, key) in &one_time {
        let seed = key.private_key_bytes();
        let invitation = Invitation {
            kind: INVITATION.into(),
            process: pid.clone(),
            chain: chain.id().to_base58(),
            actor: actor.clone(),
            identity: identity.clone(),
            node: this_node.clone().unwrap_or_default(),
            url: args.node.clone(),
            key: base58::encode(&seed[..32]),
        };
        let path = invitation_path(actor);
        let mut text = serde_json::to_string_pretty(&invitation)?;
        text.push('\n');
        crate::io::write_new(&path, text.as_bytes())?;
        files.push((actor.clone(), path));
    }
    let posted = rt.block_on(async {
        register_self(&c, &me).await?;
        c.post("/event-chains", chain.to_json()).await
    });
    if let Err(e) = posted {
        if matches!(e, ClientError::Problem { .. }) {
            for (_, path) in &files {
                let _ = std::fs::remove_file(path);
            }
        } else if !files.is_empty() {
            eprintln!(
                "the invitation files are kept: the node may have taken the process before the connection failed (see `accord process show {pid} --chain {}`)",
                chain.id().to_base58()
            );
        }
        return Err(problem(e)).context("the node did not take the process");
    }
    // By its chain: the node may hold another process with this id that this key reads.
    let projection = rt
        .block_on(c.get(&format!(
            "/processes/{pid}?chain={}",
            chain.id().to_base58()
        )))
        .map_err(problem)?;
    if args.json {
        outln!("{projection}");
    } else {
        outln!("started process {pid}");
        outln!("chain {}", chain.id().to_base58());
        summary(&projection);
        for (actor, path) in &files {
            outln!(
                "invitation for {actor}: {} (send it over a channel you trust; until it is accepted, whoever holds it acts as {actor})",
                path.display()
            );
        }
    }
    Ok(Outcome::Success)
}

#[derive(Subcommand)]
pub enum InvitationCommand {
    /// Accept an invitation to a process through your own node: the node fetches the chain
    /// from the inviting node and puts your key (and itself) in place of the invitation's
    /// one-time key. Your node must list the inviting node among its peers.
    Accept {
        /// The invitation file (`-`: standard input).
        file: PathBuf,
        #[command(flatten)]
        client: NodeClientArgs,
    },
}

pub fn invitation(command: InvitationCommand) -> Result<Outcome> {
    let InvitationCommand::Accept { file, client: args } = command;
    let bytes = crate::io::read_input(&file)?;
    let name = crate::io::display_name(&file);
    let invitation: Invitation =
        serde_json::from_slice(&bytes).map_err(|e| anyhow!("{name} is not an invitation: {e}"))?;
    if invitation.kind != INVITATION {
        bail!("{name} is a {:?}, not an {INVITATION}", invitation.kind);
    }
    let (c, me) = args.connect()?;
    let rt = runtime()?;
    let body = json!({
        "chain": invitation.chain,
        "identity": invitation.identity,
        "key": invitation.key,
        "node": invitation.node,
    });
    let accepted = rt
        .block_on(async {
            register_self(&c, &me).await?;
            c.post("/invitations", body.to_string()).await
        })
        .map_err(problem)
        .context("the node did not accept the invitation")?;
    if args.json {
        outln!("{accepted}");
        return Ok(Outcome::Success);
    }
    outln!(
        "accepted: you are {} in process {} (identity {})",
        invitation.actor,
        invitation.process,
        invitation.identity
    );
    if accepted["held"] == true {
        outln!("the chain is on {} now", args.node);
    } else {
        outln!(
            "the chain is on its way from node {} (see `accord process show {} --chain {}`)",
            invitation.node,
            invitation.process,
            invitation.chain
        );
    }
    Ok(Outcome::Success)
}

fn parse_data(data: Option<&str>) -> Result<Value> {
    let Some(text) = data else {
        return Ok(Value::Null);
    };
    let text = match text.strip_prefix('@') {
        Some(path) => crate::load::read_text(Path::new(path))?,
        None => text.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "--data is not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })
}

fn b32(v: &Value, field: &str) -> Result<[u8; 32]> {
    v[field]
        .as_str()
        .and_then(|s| base58::decode(s).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("the node's answer has no `{field}`"))
}

fn act(
    process: &str,
    chain: &ChainArg,
    action: &str,
    response: Option<&str>,
    data: Option<&str>,
    for_key: Option<&str>,
    args: &NodeClientArgs,
) -> Result<Outcome> {
    let data = parse_data(data)?;
    let query = chain.query()?;
    let (c, me) = args.connect()?;
    let rt = runtime()?;
    let body = events::response(action, response, data);
    let answer = rt.block_on(async {
        if let Some(key) = for_key {
            // The node links the event to its tip itself: no head to read, no fork to retry.
            let mut act = json!({"key": key, "action": action, "data": body["data"]});
            if let Some(r) = response {
                act["response"] = Value::from(r);
            }
            return c
                .post(
                    &format!("/processes/{process}/responses{query}"),
                    act.to_string(),
                )
                .await;
        }
        // Someone else may add an event between reading the head and posting: try again on a
        // fork, a few times.
        let mut tries = 0;
        loop {
            let p = c.get(&format!("/processes/{process}{query}")).await?;
            let chain_text = p["chain"].as_str().unwrap_or("").to_string();
            let chain: ChainId = match chain_text.parse() {
                Ok(id) => id,
                Err(_) => {
                    // The projection names its chain; an older one may not.
                    let next = c.get(&format!("/processes/{process}/next{query}")).await?;
                    next["chain"].as_str().unwrap_or("").parse().map_err(|_| {
                        ClientError::Key(
                            "the node did not say which chain the process is on".into(),
                        )
                    })?
                }
            };
            let head = c
                .get(&format!("/event-chains/{}/head", chain.to_base58()))
                .await?;
            let (Ok(tip), Ok(state)) = (b32(&head, "tip"), b32(&head, "state")) else {
                return Err(ClientError::Key("the node's head has no tip".into()));
            };
            // Never before the event it follows (stamped by a node whose clock may be ahead).
            let at = now_ms().max(head["timestamp"].as_u64().unwrap_or(0));
            let partial =
                events::next_event(&chain, tip, state, &body, &me, at).map_err(ClientError::Key)?;
            // The partial chain names its chain, which decides.
            match c
                .post(
                    &format!("/processes/{process}/responses"),
                    partial.to_json(),
                )
                .await
            {
                Err(e) if e.kind() == Some("urn:accord:problem:fork") && tries < 5 => tries += 1,
                other => return other,
            }
        }
    });
    let answer = answer.map_err(problem)?;
    if args.json {
        outln!("{answer}");
        return Ok(Outcome::Success);
    }
    // The answer names the chain the response went to.
    let p = rt
        .block_on(c.get(&format!(
            "/processes/{process}?chain={}",
            answer["id"].as_str().unwrap_or_default()
        )))
        .map_err(problem)?;
    outln!("{action}: done");
    summary(&p);
    Ok(Outcome::Success)
}

fn summary(p: &Value) {
    let state = &p["current"]["key"];
    let title = p["current"]["title"].as_str().unwrap_or("");
    outln!(
        "state: {}{}",
        state.as_str().unwrap_or("?"),
        if title.is_empty() {
            String::new()
        } else {
            format!(" ({title})")
        }
    );
    let open = p["current"]["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if open.is_empty() {
        outln!("nothing is open");
    }
    for a in open {
        let actors: Vec<&str> = a["actors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        outln!(
            "open: {} (by {})",
            a["action"].as_str().unwrap_or("?"),
            actors.join(", ")
        );
    }
}

fn show(process: &str, chain: &ChainArg, args: &NodeClientArgs) -> Result<Outcome> {
    let query = chain.query()?;
    let (c, _) = args.connect()?;
    let p = runtime()?
        .block_on(c.get(&format!("/processes/{process}{query}")))
        .map_err(problem)?;
    if args.json {
        outln!("{p}");
        return Ok(Outcome::Success);
    }
    outln!("process {process}");
    if let Some(chain) = p["chain"].as_str() {
        outln!("chain: {chain}");
    }
    if let Some(title) = p["title"].as_str() {
        outln!("title: {title}");
    }
    if let Some(actors) = p["actors"].as_object() {
        for (name, actor) in actors {
            let identity = actor["identity"]["id"]
                .as_str()
                .or_else(|| actor["identity"].as_str())
                .unwrap_or("(unbound)");
            outln!("actor {name}: {identity}");
        }
    }
    outln!(
        "responses so far: {}",
        p["previous"].as_array().map_or(0, Vec::len)
    );
    summary(&p);
    Ok(Outcome::Success)
}

fn next(process: &str, chain: &ChainArg, args: &NodeClientArgs) -> Result<Outcome> {
    let query = chain.query()?;
    let (c, _) = args.connect()?;
    let n = runtime()?
        .block_on(c.get(&format!("/processes/{process}/next{query}")))
        .map_err(problem)?;
    if args.json {
        outln!("{n}");
        return Ok(Outcome::Success);
    }
    outln!("state: {}", n["state"].as_str().unwrap_or("?"));
    if n["finished"] == json!(true) {
        outln!("the process has finished");
    }
    for (actor, actions) in n["actions"].as_object().into_iter().flatten() {
        let list: Vec<&str> = actions
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        outln!("{actor} may: {}", list.join(", "));
    }
    let path: Vec<&str> = n["next"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["key"].as_str())
        .collect();
    if !path.is_empty() {
        outln!("expected path: {}", path.join(" → "));
    }
    Ok(Outcome::Success)
}

#[derive(Subcommand)]
pub enum CustodyCommand {
    /// Create a key the node holds for a user (you must be one of the node's administrators).
    /// Prints the new public key; register an identity with it to bind it to actors.
    Add {
        /// A key (base58) allowed to act with it, e.g. the user's browser or your front end.
        /// Repeat for each.
        #[arg(long = "controller", value_name = "KEY")]
        controllers: Vec<String>,
        #[command(flatten)]
        client: NodeClientArgs,
    },
    /// List the keys the node holds for users (administrators only).
    List {
        #[command(flatten)]
        client: NodeClientArgs,
    },
}

pub fn custody(command: CustodyCommand) -> Result<Outcome> {
    let rt = runtime()?;
    match command {
        CustodyCommand::Add {
            controllers,
            client,
        } => {
            let (c, _) = client.connect()?;
            let entry = rt
                .block_on(c.post(
                    "/custody",
                    json!({ "controllers": controllers }).to_string(),
                ))
                .map_err(problem)?;
            if client.json {
                outln!("{entry}");
            } else {
                outln!("{}", entry["key"].as_str().unwrap_or("?"));
            }
        }
        CustodyCommand::List { client } => {
            let (c, _) = client.connect()?;
            let list = rt.block_on(c.get("/custody")).map_err(problem)?;
            if client.json {
                outln!("{list}");
            } else {
                for e in list["keys"].as_array().into_iter().flatten() {
                    let controllers: Vec<&str> = e["controllers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    outln!(
                        "{}  controllers: {}",
                        e["key"].as_str().unwrap_or("?"),
                        if controllers.is_empty() {
                            "administrators only".to_string()
                        } else {
                            controllers.join(", ")
                        }
                    );
                }
            }
        }
    }
    Ok(Outcome::Success)
}
