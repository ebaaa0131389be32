//! Fuzzes the `x-truemed-signature` parser, and verification of arbitrary header values.
//!
//! Properties: nothing panics; a header that parses formats to a header that parses back to
//! the same timestamp and signatures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use truemed_ext::webhook::{SignatureHeader, WebhookVerifier, SIGNATURE_HEADER};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(header) = SignatureHeader::parse(&text) {
        let formatted = header.to_string();
        let reparsed = SignatureHeader::parse(&formatted).expect("a formatted header parses");
        assert_eq!(reparsed.timestamp(), header.timestamp());
        assert_eq!(reparsed.v1_signatures(), header.v1_signatures());
        assert_eq!(reparsed.to_string(), formatted);
    }

    let verifier = WebhookVerifier::new("whsec_fuzz");
    let _ = verifier.verify_signature_at(&*text, data, 1_700_000_000);
    let _ = verifier.verify_signature_at(data, data, 1_700_000_000);
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, value);
        let _ = verifier.verify_signed_at(&headers, b"{}", 1_700_000_000);
    }
});
