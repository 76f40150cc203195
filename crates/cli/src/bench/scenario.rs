//! `accord bench scenario`: how fast the engine steps processes, and whether a step's cost
//! stays flat as a process's history grows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use accord_engine::{Candidate, Compiled, Identity, Process, Start};
use accord_scenario::{Format, check_text};

use crate::Outcome;

#[derive(Args)]
pub struct ScenarioArgs {
    /// Biomass processes to run to their end (11 responses each).
    #[arg(long, default_value_t = 10_000)]
    processes: usize,
    /// History lengths to replay, in responses (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000, 10_000, 100_000])]
    histories: Vec<usize>,
    /// Timed runs of each measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

const BIOMASS: &str = include_str!("../../../../examples/scenarios/biomass.json");
const PARTIAL: &str = include_str!("../../../../examples/scenarios/biomass-partial-delivery.json");
const ACTORS: [&str; 5] = ["buyer", "supplier", "logistics", "landowner", "company"];

fn compile(text: &str) -> Result<Arc<Compiled>> {
    let checked = check_text(text, Format::Json);
    let scenario = checked
        .scenario
        .context("the example scenario has errors")?;
    Ok(Arc::new(Compiled::new(scenario).map_err(|e| {
        let e: Vec<String> = e.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(e.join("; "))
    })?))
}

fn start(compiled: &Arc<Compiled>, n: usize) -> Result<Process> {
    let start = Start {
        id: format!("process-{n}"),
        chain: Some(format!("chain-{n}")),
        actors: ACTORS
            .iter()
            .map(|a| {
                let id = Identity {
                    id: format!("{a}-id"),
                    node: None,
                    signkeys: vec![("user".into(), format!("key-{a}"))],
                    encryptkey: None,
                };
                (a.to_string(), id)
            })
            .collect(),
        timestamp: 1_000,
        ..Start::default()
    };
    Ok(Process::start(compiled.clone(), start)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .0)
}

fn candidate(actor: &str, action: &str, response: Option<&str>, data: Value, t: u64) -> Candidate {
    Candidate {
        signer: format!("key-{actor}"),
        action: action.into(),
        response: response.map(String::from),
        data,
        timestamp: t,
        hash: format!("hash-{t}"),
    }
}

/// The biomass chain from start to `:success`: 11 responses with realistic data.
fn biomass_steps() -> Vec<Candidate> {
    let hash = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let steps = [
        (
            "company",
            "request_authorisation",
            None,
            json!({"reference": "REQ-1", "authority": "Regional forestry office"}),
        ),
        (
            "company",
            "record_decision",
            Some("granted"),
            json!({"reference": "AUT-7"}),
        ),
        (
            "landowner",
            "contract_landowner",
            None,
            json!({"hash": hash, "hectares": 12.5}),
        ),
        (
            "company",
            "sell_to_supplier",
            None,
            json!({"tonnes": 400, "price_eur": 18000}),
        ),
        (
            "company",
            "open_site",
            None,
            json!({"location": "Parcel 12, Sila"}),
        ),
        ("company", "request_shipment", None, json!({"tonnes": 380})),
        (
            "logistics",
            "plan_delivery",
            None,
            json!({"tonnes": 380, "trucks": 16, "plan": "two loads a day"}),
        ),
        ("logistics", "deliver", None, json!({"tonnes": 380})),
        ("supplier", "check_in", None, json!({"tonnes": 380})),
        (
            "supplier",
            "sell_to_buyer",
            None,
            json!({"tonnes": 380, "price_eur": 21000}),
        ),
        ("buyer", "take_over", None, Value::Null),
    ];
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (a, x, r, d))| candidate(a, x, r, d, 2_000 + i as u64 * 1_000))
        .collect()
}

/// The partial-delivery variant up to its loop, then `n` responses going round it
/// (deliver the rest, check in a part).
fn long_history(n: usize) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = biomass_steps().into_iter().take(8).collect();
    out.push(candidate(
        "supplier",
        "check_in",
        Some("partial"),
        json!({"tonnes": 10}),
        20_000,
    ));
    let mut t = 21_000;
    while out.len() < n {
        let rest = out.len() % 2 == 1;
        out.push(if rest {
            candidate("logistics", "deliver_rest", None, json!({"tonnes": 380}), t)
        } else {
            candidate(
                "supplier",
                "check_in",
                Some("partial"),
                json!({"tonnes": 10 + out.len() % 300}),
                t,
            )
        });
        t += 1_000;
    }
    out.truncate(n);
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(args: ScenarioArgs) -> Result<Outcome> {
    if args.runs == 0 || args.processes == 0 {
        bail!("--runs and --processes must be at least 1");
    }
    let biomass = compile(BIOMASS)?;
    let steps = biomass_steps();
    // Stepping: whole biomass processes, start to end.
    let mut samples = Vec::new();
    let mut step_samples = Vec::new();
    let mut check = 0usize;
    for _ in 0..args.runs {
        let t0 = Instant::now();
        let mut in_steps = Duration::ZERO;
        for n in 0..args.processes {
            let mut p = start(&biomass, n)?;
            let s = Instant::now();
            for c in &steps {
                p.step(c)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", c.action))?;
            }
            in_steps += s.elapsed();
            check += p.previous().len();
        }
        samples.push(t0.elapsed());
        step_samples.push(in_steps);
    }
    if check != args.runs * args.processes * steps.len() {
        bail!("not every step was taken");
    }
    let stepping = median(samples);
    let only_steps = median(step_samples);
    let total_steps = args.processes * steps.len();
    let steps_per_s = total_steps as f64 / stepping.as_secs_f64();
    let only_steps_per_s = total_steps as f64 / only_steps.as_secs_f64();

    // Replay: one process with a long history; the cost of the last 1,000 steps against the first.
    let partial = compile(PARTIAL)?;
    let mut replays = Vec::new();
    for &n in &args.histories {
        let history = long_history(n.max(10));
        let mut samples = Vec::new();
        let mut firsts = Vec::new();
        let mut lasts = Vec::new();
        let window = 1_000.min(history.len() / 2).max(1);
        for _ in 0..args.runs {
            let mut first = Duration::ZERO;
            let mut last = Duration::ZERO;
            let mut p = start(&partial, 0)?;
            let t0 = Instant::now();
            for (i, c) in history.iter().enumerate() {
                let s = Instant::now();
                p.step(c)
                    .map_err(|e| anyhow::anyhow!("step {i} ({}): {e}", c.action))?;
                let took = s.elapsed();
                if i < window {
                    first += took;
                }
                if i >= history.len() - window {
                    last += took;
                }
            }
            samples.push(t0.elapsed());
            firsts.push(first / window as u32);
            lasts.push(last / window as u32);
            if p.previous().len() != history.len() {
                bail!("the replay lost responses");
            }
        }
        let total = median(samples);
        replays.push((history.len(), total, median(firsts), median(lasts)));
    }

    if args.json {
        let out = json!({
            "stepping": {"processes": args.processes, "steps": total_steps, "seconds": stepping.as_secs_f64(), "steps_per_second": steps_per_s, "responses_only_seconds": only_steps.as_secs_f64(), "responses_only_per_second": only_steps_per_s},
            "replay": replays.iter().map(|(n, t, f, l)| json!({"responses": n, "seconds": t.as_secs_f64(), "first_step_us": f.as_secs_f64() * 1e6, "last_step_us": l.as_secs_f64() * 1e6})).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        outln!("engine, one core, median of {} run(s)", args.runs);
        outln!(
            "  biomass: {} processes × {} responses, starts included: {:.3} s = {:.0} steps/s ({:.2} µs/step)",
            args.processes,
            steps.len(),
            stepping.as_secs_f64(),
            steps_per_s,
            1e6 / steps_per_s
        );
        outln!(
            "  biomass, the responses alone: {:.3} s = {:.0} steps/s ({:.2} µs/step)",
            only_steps.as_secs_f64(),
            only_steps_per_s,
            1e6 / only_steps_per_s
        );
        outln!("  replay of one process (partial delivery, looping):");
        outln!(
            "    {:>9}  {:>9}  {:>10}  {:>18}  {:>18}",
            "responses",
            "seconds",
            "steps/s",
            "µs/step, first 1k",
            "µs/step, last 1k"
        );
        for (n, t, f, l) in &replays {
            outln!(
                "    {:>9}  {:>9.3}  {:>10.0}  {:>18.2}  {:>18.2}",
                n,
                t.as_secs_f64(),
                *n as f64 / t.as_secs_f64(),
                f.as_secs_f64() * 1e6,
                l.as_secs_f64() * 1e6
            );
        }
    }
    Ok(Outcome::Success)
}
