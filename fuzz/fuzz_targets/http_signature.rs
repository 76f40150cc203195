//! Request signatures (`accord-httpsig`): arbitrary methods, paths, header values and bodies
//! through RFC 9421 and draft-cavage verification, the digest checks and the date parser.
//! Never panics; nothing forged verifies.
#![no_main]

use accord_httpsig as httpsig;
use libfuzzer_sys::fuzz_target;

// Splits the input into fields at 0xFF bytes: method, path, query, body, then header
// name/value pairs.
fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let method = text();
    let path = text();
    let query = text();
    let body = text();
    let mut owned = Vec::new();
    loop {
        let name = text();
        if name.is_empty() {
            break;
        }
        owned.push((name.to_ascii_lowercase(), text()));
        if owned.len() > 32 {
            break;
        }
    }
    let headers: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = httpsig::Request {
        method: &method,
        scheme: "http",
        authority: "127.0.0.1:4000",
        path: &path,
        query: if query.is_empty() { None } else { Some(&query) },
        headers: &headers,
        body: body.as_bytes(),
    };
    let now = 1_767_225_600;
    let rfc = httpsig::verify(
        &request,
        httpsig::lto_verifying_key,
        now,
        &httpsig::VerifyPolicy::default(),
    );
    assert!(rfc.is_err(), "an arbitrary request verified: {rfc:?}");
    let cavage = httpsig::cavage_verify(
        &request,
        httpsig::lto_verifying_key,
        now,
        &httpsig::CavagePolicy::default(),
    );
    assert!(cavage.is_err(), "an arbitrary cavage request verified: {cavage:?}");
    for (_, value) in &headers {
        let _ = httpsig::verify_content_digest(value, body.as_bytes());
        let _ = httpsig::verify_digest_header(value, body.as_bytes());
        let _ = httpsig::parse_http_date(value);
    }
});
