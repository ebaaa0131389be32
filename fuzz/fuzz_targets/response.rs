//! Fuzzes everything the client reads from a response it did not ask for: the status,
//! `Retry-After` / `retry-after-ms`, request-id and `Location` headers, error bodies of any
//! shape, and session bodies with odd timestamps and amounts, and list pages with odd
//! pagination numbers.
//!
//! Input: two bytes of status, then header lines (`name: value`, `\n`-separated) up to an
//! empty line, then the body. Properties: nothing panics; error text stays bounded; a
//! pagination that decodes re-encodes to one that decodes equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]) % 1000, rest),
        _ => return,
    };
    let mut headers = http::HeaderMap::new();
    let mut body = rest;
    let mut lines = rest.split(|b| *b == b'\n');
    let mut consumed = 0;
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name), http::HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    if consumed <= rest.len() {
        body = &rest[consumed..];
    }
    let text = truemed_ext::fuzzing::read_response(status, &headers, body);
    assert!(text.len() < 4 * 1024, "error text is bounded: {} bytes", text.len());

    let _ = serde_json::from_slice::<truemed_ext::QualificationSession>(body);
    let _ = serde_json::from_slice::<truemed_ext::Timestamp>(body);
    let _ = serde_json::from_slice::<truemed_ext::Amount>(body);
    let _ = serde_json::from_slice::<truemed_ext::ListQualificationSessionsResponse>(body);
    // Pagination is read leniently; what it read encodes to integers it reads back the same.
    if let Ok(pagination) = serde_json::from_slice::<truemed_ext::Pagination>(body) {
        let again = serde_json::to_vec(&pagination).expect("a pagination encodes");
        let back: truemed_ext::Pagination =
            serde_json::from_slice(&again).expect("an encoded pagination decodes");
        assert_eq!(back, pagination);
    }
});
