//! The scenario reader, checker and the engine's verdict on any text, as JSON and as YAML:
//! never a panic, always an answer. A scenario that checks clean also draws, and whatever
//! parses as JSON parses the same when written back out and read again.
#![no_main]

use accord_scenario::{Format, check_text, doc, graph};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Json, Format::Yaml] {
        let checked = check_text(text, format);
        if let Some(s) = &checked.scenario {
            assert!(!checked.has_errors());
            let g = graph::graph(s);
            let _ = graph::to_dot(&g);
            let _ = graph::to_mermaid(&g);
        } else {
            assert!(checked.has_errors(), "no scenario without an error to say why");
        }
        // The engine's verdict (schemas, defaults, a trial start) never panics, takes a
        // scenario exactly when it has no error, and takes nothing the model's check refuses.
        let verdict = accord_engine::judge_text(text, format);
        assert_eq!(verdict.compiled.is_some(), !verdict.has_errors());
        if checked.scenario.is_none() {
            assert!(verdict.compiled.is_none());
        }
        if let Ok(value) = doc::parse(text, format) {
            let again = doc::parse_json(&serde_json::to_string(&value).expect("a value writes"))
                .expect("what was read is I-JSON and reads back");
            assert_eq!(again, value);
        }
    }
});
