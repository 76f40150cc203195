//! Every example scenario, driven to each of its final states.

mod common;

use accord_engine::{Rejection, Request};
use common::{Run, example, sha};
use serde_json::{Value, json};

fn signing_start(file: &str) -> Run {
    let mut r = example(file);
    r.ok(
        "drafter",
        "request_review",
        None,
        json!({"title": "Supply agreement", "hash": sha("v1")}),
    );
    assert_eq!(r.state(), "review");
    r
}

#[test]
fn document_signing_plain_every_path() {
    for (first, second) in [("drafter", "reviewer"), ("reviewer", "drafter")] {
        let mut r = signing_start("document-signing.json");
        r.ok(
            "reviewer",
            "review",
            Some("decline"),
            json!({"remarks": "clause 4"}),
        );
        assert_eq!(r.state(), "initial", "declined: back to the draft");
        r.ok(
            "drafter",
            "request_review",
            None,
            json!({"hash": sha("v2")}),
        );
        r.ok("reviewer", "review", Some("accept"), Value::Null);
        assert_eq!(r.state(), "accepted");
        let action = |who: &str| if who == "drafter" { "sign_a" } else { "sign_b" };
        r.ok(first, action(first), None, Value::Null);
        assert_eq!(
            r.state(),
            if first == "drafter" {
                "a_signed"
            } else {
                "b_signed"
            }
        );
        let e = r.act(first, action(first), None, Value::Null).unwrap_err();
        assert!(matches!(e, Rejection::NotOpen { .. }), "{e}");
        r.ok(second, action(second), None, Value::Null);
        assert_eq!(r.state(), ":success");
        assert_eq!(r.p.doc()["assets"]["document"]["hash"], sha("v2"));
    }
    let mut r = example("document-signing.json");
    r.ok("drafter", "withdraw", None, Value::Null);
    assert_eq!(r.state(), ":cancelled");
}

#[test]
fn document_signing_extended_waits_for_both_signatures() {
    let mut r = signing_start("document-signing-extended.yaml");
    let e = r.act("reviewer", "review", None, json!({"hash": "not hex"}));
    assert!(e.is_ok(), "review data is not written anywhere");
    assert_eq!(r.state(), "signing");
    assert_eq!(
        r.p.open_actions().unwrap(),
        vec![(
            "sign".to_string(),
            vec!["drafter".to_string(), "reviewer".to_string()]
        )]
    );
    r.p.comment(
        &common::key_of("reviewer"),
        json!("Signing tonight."),
        r.clock,
        "comment-1",
    );
    r.ok("reviewer", "sign", None, Value::Null);
    assert_eq!(r.state(), "signing", "one signature is not enough");
    assert_eq!(
        r.p.open_actions().unwrap(),
        vec![("sign".to_string(), vec!["drafter".to_string()])],
        "who signed may not sign again"
    );
    let e = r.act("reviewer", "sign", None, Value::Null).unwrap_err();
    assert!(matches!(e, Rejection::NotAllowed { .. }), "{e}");
    r.ok("drafter", "sign", None, Value::Null);
    assert_eq!(r.state(), ":success");
    let projection = r.p.to_json();
    assert_eq!(projection["comments"][0]["text"], "Signing tonight.");
    assert_eq!(projection["comments"][0]["actor"], "reviewer");
    assert_eq!(
        projection["previous"].as_array().unwrap().len(),
        4,
        "a comment is not a response"
    );
}

#[test]
fn document_signing_extended_can_be_withdrawn() {
    let mut r = example("document-signing-extended.yaml");
    r.ok("drafter", "withdraw", None, Value::Null);
    assert_eq!(r.state(), ":cancelled");
    let mut r = signing_start("document-signing-extended.yaml");
    r.ok("reviewer", "review", Some("decline"), Value::Null);
    r.ok("drafter", "withdraw", None, Value::Null);
    assert_eq!(r.state(), ":cancelled", "declined, then withdrawn");
}

#[test]
fn biomass_partial_delivery_fails_and_cancels_like_the_base() {
    let mut r = example("biomass-partial-delivery.json");
    r.ok(
        "company",
        "request_authorisation",
        None,
        json!({"reference": "REQ-1"}),
    );
    r.ok("company", "record_decision", Some("denied"), Value::Null);
    assert_eq!(r.state(), ":failed");
    let mut r = example("biomass-partial-delivery.json");
    r.ok(
        "company",
        "request_authorisation",
        None,
        json!({"reference": "REQ-1"}),
    );
    r.ok(
        "company",
        "record_decision",
        Some("granted"),
        json!({"reference": "AUT-7"}),
    );
    r.ok("company", "cancel", None, Value::Null);
    assert_eq!(r.state(), ":cancelled");
}

/// Every final state each example can reach, and the tests above that reach it.
#[test]
fn every_reachable_final_state_of_every_example_is_driven_to() {
    let covered: &[(&str, &[&str])] = &[
        ("document-signing.json", &[":success", ":cancelled"]),
        (
            "document-signing-extended.yaml",
            &[":success", ":cancelled"],
        ),
        ("biomass.json", &[":success", ":failed", ":cancelled"]),
        (
            "biomass-partial-delivery.json",
            &[":success", ":failed", ":cancelled"],
        ),
        (
            "information-trade.json",
            &[":success", ":failed", ":cancelled"],
        ),
    ];
    let dir = format!(
        "{}/../../examples/scenarios",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        covered.len(),
        "a new example needs its final states driven to: {files:?}"
    );
    for (file, finals) in covered {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let s =
            accord_scenario::check_text(&text, accord_scenario::Format::from_path(file).unwrap())
                .scenario
                .unwrap();
        let reachable: Vec<String> = accord_scenario::check::edges(&s)
            .iter()
            .map(|e| s.states.get_index(e.to).unwrap().0.clone())
            .filter(|k| k.starts_with(':'))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut expected: Vec<String> = finals.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(reachable, expected, "{file}");
    }
}

#[test]
fn document_with_a_bad_hash_is_rejected_at_the_pointer() {
    let mut r = example("document-signing.json");
    let e = r
        .act("drafter", "request_review", None, json!({"hash": "xyz"}))
        .unwrap_err();
    match e {
        Rejection::Schema { pointer, .. } => assert_eq!(pointer, "/assets/document/hash"),
        other => panic!("{other}"),
    }
}

/// The biomass chain up to the delivery, with the data the case study names.
fn biomass_to_delivery(file: &str) -> Run {
    let mut r = example(file);
    assert_eq!(
        r.next().len(),
        11,
        "the expected path runs through every state: {:?}",
        r.next()
    );
    r.ok(
        "company",
        "request_authorisation",
        None,
        json!({"reference": "REQ-1", "authority": "Regional forestry office"}),
    );
    r.ok(
        "company",
        "record_decision",
        Some("granted"),
        json!({"reference": "AUT-7"}),
    );
    r.ok(
        "landowner",
        "contract_landowner",
        None,
        json!({"hash": sha("contract"), "hectares": 12.5}),
    );
    r.ok(
        "company",
        "sell_to_supplier",
        None,
        json!({"tonnes": 400, "price_eur": 18000}),
    );
    r.ok(
        "company",
        "open_site",
        None,
        json!({"location": "Parcel 12, Sila"}),
    );
    r.ok("company", "request_shipment", None, json!({"tonnes": 380}));
    r.ok(
        "logistics",
        "plan_delivery",
        None,
        json!({"tonnes": 380, "trucks": 16, "plan": "two loads a day"}),
    );
    assert_eq!(r.state(), "ready_to_deliver");
    r
}

#[test]
fn biomass_runs_through_the_states_in_order_to_success() {
    let mut r = biomass_to_delivery("biomass.json");
    r.ok("logistics", "deliver", None, json!({"tonnes": 380}));
    r.ok("supplier", "check_in", None, json!({"tonnes": 380}));
    r.ok(
        "supplier",
        "sell_to_buyer",
        None,
        json!({"tonnes": 380, "price_eur": 21000}),
    );
    assert_eq!(
        r.p.doc()["current"]["instructions"]["buyer"],
        "Take the biomass over."
    );
    r.ok("buyer", "take_over", None, Value::Null);
    assert_eq!(r.state(), ":success");
    assert_eq!(r.p.doc()["current"]["title"], "Buyer obtained biomass");
    let states: Vec<&str> =
        r.p.previous()
            .iter()
            .map(|p| p["action"].as_str().unwrap())
            .collect();
    assert_eq!(
        states,
        vec![
            "request_authorisation",
            "record_decision",
            "contract_landowner",
            "sell_to_supplier",
            "open_site",
            "request_shipment",
            "plan_delivery",
            "deliver",
            "check_in",
            "sell_to_buyer",
            "take_over"
        ]
    );
    assert_eq!(
        r.p.doc()["assets"]["delivery"],
        json!({"delivered_tonnes": 380, "received_tonnes": 380, "key": "delivery", "title": "Delivery"})
    );
    assert_eq!(r.p.doc()["assets"]["authorisation"]["reference"], "AUT-7");
}

#[test]
fn biomass_failed_and_cancelled() {
    let mut r = example("biomass.json");
    r.ok(
        "company",
        "request_authorisation",
        None,
        json!({"reference": "REQ-1"}),
    );
    r.ok("company", "record_decision", Some("denied"), Value::Null);
    assert_eq!(r.state(), ":failed");
    let mut r = example("biomass.json");
    let e = r.act("buyer", "cancel", None, Value::Null).unwrap_err();
    assert!(
        matches!(e, Rejection::NotAllowed { .. }),
        "the buyer cannot cancel: {e}"
    );
    r.ok("supplier", "cancel", None, Value::Null);
    assert_eq!(r.state(), ":cancelled");
    let mut r = example("biomass.json");
    let e = r
        .act("logistics", "plan_delivery", None, json!({"trucks": 0}))
        .unwrap_err();
    assert!(matches!(e, Rejection::NotOpen { .. }), "{e}");
}

#[test]
fn biomass_partial_delivery() {
    let mut r = biomass_to_delivery("biomass-partial-delivery.json");
    r.ok("logistics", "deliver", None, json!({"tonnes": 240}));
    r.ok(
        "supplier",
        "check_in",
        Some("partial"),
        json!({"tonnes": 240}),
    );
    assert_eq!(r.state(), "partially_delivered");
    r.ok("logistics", "deliver_rest", None, json!({"tonnes": 380}));
    r.ok(
        "supplier",
        "check_in",
        Some("partial"),
        json!({"tonnes": 350}),
    );
    r.ok("supplier", "settle", None, Value::Null);
    assert_eq!(r.state(), "received");
    assert_eq!(r.p.doc()["assets"]["delivery"]["received_tonnes"], 350);
    r.ok("supplier", "sell_to_buyer", None, json!({"tonnes": 350}));
    r.ok("buyer", "take_over", None, Value::Null);
    assert_eq!(r.state(), ":success");
    let e = r.act("supplier", "settle", None, Value::Null).unwrap_err();
    assert!(matches!(e, Rejection::NotOpen { .. }), "{e}");
}

#[test]
fn information_trade_accept_reject_and_expire() {
    let offer = json!({"hash": sha("off-chain document"), "description": "Quarterly figures"});
    let mut r = example("information-trade.json");
    r.ok("sender", "offer", None, offer.clone());
    assert_eq!(r.state(), "offered");
    let instruction = r.p.doc()["current"]["instructions"]["receiver"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        instruction.contains(&sha("off-chain document")),
        "{instruction}"
    );
    let day = 24 * 3600 * 1000;
    let due = r.clock + 7 * day;
    assert!(
        r.requests.contains(&Request::Timer {
            state: "offered".into(),
            due
        }),
        "{:?}",
        r.requests
    );
    r.ok("receiver", "answer", Some("accept"), Value::Null);
    assert_eq!(r.state(), ":success");

    let mut r = example("information-trade.json");
    r.ok("sender", "offer", None, offer.clone());
    r.ok(
        "receiver",
        "answer",
        Some("reject"),
        json!({"reason": "the hash does not match"}),
    );
    assert_eq!(r.state(), ":failed");
    assert_eq!(
        r.p.doc()["assets"]["offer"]["reason"],
        "the hash does not match"
    );

    let mut r = example("information-trade.json");
    r.ok("sender", "offer", None, offer);
    let e = r.act("sender", ":timeout", None, Value::Null).unwrap_err();
    assert!(matches!(e, Rejection::NotDue { .. }), "too early: {e}");
    r.clock += 7 * day;
    r.ok("sender", ":timeout", None, Value::Null);
    assert_eq!(r.state(), ":cancelled");
    assert_eq!(r.p.doc()["current"]["title"], "Expired");
}
