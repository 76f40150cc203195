//! `accord`: the one binary. Keys, event chains, scenarios (check, draw, run), processes, the
//! node and a devnet of nodes, and the benchmarks; the ledger arrives as its crate does.
//!
//! Exit codes, decided here and nowhere else: 0 success; 1 a chain is not valid (or is not a
//! chain at all, or is a partial copy where a whole one is asked for); 2 a usage or input error
//! (bad arguments, a file that cannot be read, a wrong passphrase). Errors go to stderr as one
//! `error: …` line with their causes.

/// `println!` that ends the process quietly when stdout is closed (`accord … | head`), where
/// `println!` would panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::io::out(format_args!($($arg)*))
    };
}

mod bench;
mod chain;
mod devnet;
mod io;
mod keys;
mod load;
mod node;
mod process;
mod run;
mod scenario;
mod signer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Accord: workflows between organizations that do not trust each other.
#[derive(Parser)]
#[command(name = "accord", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Key pairs: make, show, keep in keystore files; encrypt to a key.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Event chains: create, add signed events, show, verify.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Scenarios (Live Contracts): check them, draw them, run them locally.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// Run a node: the HTTP API and the event pipeline.
    Node(node::NodeArgs),
    /// Run several organisations' nodes on loopback, knowing each other, until Ctrl-C.
    Devnet(devnet::DevnetArgs),
    /// Processes on a node: start one, act, show it, see what is next.
    #[command(subcommand)]
    Process(process::ProcessCommand),
    /// Invitations to processes on other organisations' nodes.
    #[command(subcommand)]
    Invitation(process::InvitationCommand),
    /// Keys a node holds for users who act through a front end (custody).
    #[command(subcommand)]
    Custody(process::CustodyCommand),
    /// Benchmarks, run side by side with what they compare against.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// How a command ended when it did not fail outright.
pub enum Outcome {
    /// Everything held.
    Success,
    /// The command ran, and what it checked did not hold (an invalid chain).
    Invalid,
    /// The command ran, but some input could not be read at all (a missing file); it has
    /// said which.
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(command) => keys::run(command),
        Command::Chain(command) => chain::run(command),
        Command::Scenario(command) => scenario::run(command),
        Command::Node(args) => node::run(args),
        Command::Devnet(args) => devnet::run(args),
        Command::Process(command) => process::run(command),
        Command::Invitation(command) => process::invitation(command),
        Command::Custody(command) => process::custody(command),
        Command::Bench(command) => bench::run(command),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        Ok(Outcome::Failed) => ExitCode::from(2),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
