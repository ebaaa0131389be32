//! Tests of `truemed_ext::webhook`: known-answer vectors computed independently with Python's
//! `hmac`, tampering, rotation, tolerance bounds, malformed headers and bodies, unsigned
//! deliveries, and redaction of secrets. Each accept/reject case of a signed delivery goes
//! through both `verify_signed_at` (a header map) and `verify_signature_at` (the header's
//! value), each of an unsigned one through both `verify_unsigned` and `verify_shared_secret`,
//! and the two must agree.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde_json::json;
use truemed_ext::webhook::{
    self, HeaderProblem, SignatureHeader, SignedDelivery, WebhookError, WebhookEvent,
    WebhookSecret, WebhookVerifier, SIGNATURE_HEADER,
};
use truemed_ext::{
    QualificationSessionCompleteWebhook, Status as QualificationSessionStatus, WebhookEnvelope,
    API_KEY_HEADER,
};

// Known-answer vectors, computed independently of this crate with Python 3's `hmac`:
//
// ```python
// import hmac, hashlib
// def v1(secret: bytes, t: str, body: bytes) -> str:
//     return hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
// BODY_COMPLETE = b'{"webhook_delivery_id":"whd_01","event_type":"qualification_session.complete","data":{"qualification_session_id":"qs_123","status":"approved","email":"shopper@example.com","expires_at":"2026-01-01T00:00:00Z","source":"checkout","user_id":"user_42"}}'
// BODY_UNKNOWN = b'{"webhook_delivery_id":"whd_02","event_type":"payment.refunded","data":{"amount":1200}}'
// print("COMPLETE   ", v1(b"whsec_test_secret", "1700000000", BODY_COMPLETE))
// print("UNKNOWN    ", v1(b"whsec_test_secret", "1700000000", BODY_UNKNOWN))
// print("ROTATED    ", v1(b"whsec_rotated_secret", "1700000000", BODY_COMPLETE))
// print("LEADING0   ", v1(b"whsec_test_secret", "01700000000", BODY_COMPLETE))
// print("BINARY     ", v1(b"whsec_test_secret", "1700000000", b"\xff\xfe\x00garbage"))
// print("UTF8SECRET ", v1("sécret-ü".encode(), "1700000000", BODY_COMPLETE))
// ```

const SECRET: &str = "whsec_test_secret";
const ROTATED_SECRET: &str = "whsec_rotated_secret";
const UTF8_SECRET: &str = "sécret-ü";
const T: i64 = 1_700_000_000;

const BODY_COMPLETE: &[u8] = br#"{"webhook_delivery_id":"whd_01","event_type":"qualification_session.complete","data":{"qualification_session_id":"qs_123","status":"approved","email":"shopper@example.com","expires_at":"2026-01-01T00:00:00Z","source":"checkout","user_id":"user_42"}}"#;
const BODY_UNKNOWN: &[u8] =
    br#"{"webhook_delivery_id":"whd_02","event_type":"payment.refunded","data":{"amount":1200}}"#;
const BODY_BINARY: &[u8] = b"\xff\xfe\x00garbage";

const SIG_COMPLETE: &str = "ed8ef10121c27276324aa4ff817af5384e46e21a1b2e3f4205e636ed1385bb3d";
const SIG_UNKNOWN: &str = "530b52a9b986c918b1f4eb0059f6a386f9a81174fbca862d518c71010f829f15";
const SIG_ROTATED: &str = "4a3b36a30bc9b588c9d3a0b977619d117659453faffbebda92be1129630b1f61";
const SIG_LEADING_ZERO: &str = "3235d709cdaa4b82660f3463b1463f3798622b496dbf11975bc3f57ff8da7086";
const SIG_BINARY: &str = "64188f8ef7380df25677101da34e145b40fd224be0d7b2eefd2e6612b93cfe2c";
const SIG_UTF8_SECRET: &str = "a5a96bcc809fd69b0b9c254e8520c59d1a1517f3f1bfce14e9f733fcd6ce0069";

/// 64 valid hex digits that are no one's signature.
const SIG_BOGUS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn headers_with(name: &'static str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(name, HeaderValue::from_str(value).expect("test header value"));
    headers
}

fn signature(value: &str) -> HeaderMap {
    headers_with(SIGNATURE_HEADER, value)
}

/// The headers of a signed delivery of `body` at `t`, as Truemed sends them.
fn signed_headers(secret: &str, t: i64, body: &[u8]) -> HeaderMap {
    let mut headers = signature(&SignatureHeader::sign(secret, t, body).to_string());
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// The headers of an unsigned delivery, as Truemed sends them.
fn unsigned_headers(secret: &str) -> HeaderMap {
    headers_with(API_KEY_HEADER, secret)
}

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(SECRET)
}

/// `verifier`'s answer to a signed delivery whose signature header is `value`, through both
/// the header-map and the header-value methods, which must agree.
fn verify_signed_with(
    verifier: &WebhookVerifier,
    value: &str,
    body: &[u8],
    now: i64,
) -> Result<SignedDelivery, WebhookError> {
    let from_headers = verifier.verify_signed_at(&signature(value), body, now);
    let from_value = verifier.verify_signature_at(value, body, now);
    assert_eq!(
        format!("{from_headers:?}"),
        format!("{from_value:?}"),
        "verify_signed_at and verify_signature_at disagree on {value:?}"
    );
    from_value
}

fn verify_at(value: &str, body: &[u8], now: i64) -> Result<SignedDelivery, WebhookError> {
    verify_signed_with(&verifier(), value, body, now)
}

/// `verifier`'s answer to an unsigned delivery presenting `presented`, through both the
/// header-map and the header-value methods, which must agree.
fn verify_unsigned_with(
    verifier: &WebhookVerifier,
    presented: &str,
    body: &[u8],
) -> Result<QualificationSessionCompleteWebhook, WebhookError> {
    let from_headers = verifier.verify_unsigned(&headers_with(API_KEY_HEADER, presented), body);
    let from_value = verifier.verify_shared_secret(presented, body);
    assert_eq!(
        format!("{from_headers:?}"),
        format!("{from_value:?}"),
        "verify_unsigned and verify_shared_secret disagree on {presented:?}"
    );
    from_value
}

fn malformed(problem: HeaderProblem) -> WebhookError {
    WebhookError::MalformedHeader { header: SIGNATURE_HEADER, problem }
}

// ---------------------------------------------------------------------------------------------
// Known answers

#[test]
fn known_answer_complete_event_decodes_every_field() {
    let delivery = verify_at(&format!("t={T},v1={SIG_COMPLETE}"), BODY_COMPLETE, T).unwrap();
    assert_eq!(delivery.webhook_delivery_id, "whd_01");
    assert_eq!(delivery.timestamp, T);
    assert_eq!(delivery.event.event_type(), webhook::QUALIFICATION_SESSION_COMPLETE);
    let WebhookEvent::QualificationSessionComplete(session) = delivery.event else {
        panic!("expected a completed session, got {:?}", delivery.event);
    };
    assert_eq!(session.qualification_session_id, "qs_123");
    assert_eq!(session.status, QualificationSessionStatus::Approved);
    assert_eq!(session.email.as_deref(), Some("shopper@example.com"));
    assert_eq!(
        session.expires_at.map(|t| t.to_rfc3339()),
        Some("2026-01-01T00:00:00+00:00".to_owned())
    );
    assert_eq!(session.source.as_deref(), Some("checkout"));
    assert_eq!(session.user_id.as_deref(), Some("user_42"));
}

#[test]
fn signing_reproduces_the_known_answers() {
    let known: [(&str, &str, &[u8], &str); 5] = [
        ("complete", SECRET, BODY_COMPLETE, SIG_COMPLETE),
        ("unknown event", SECRET, BODY_UNKNOWN, SIG_UNKNOWN),
        ("rotated secret", ROTATED_SECRET, BODY_COMPLETE, SIG_ROTATED),
        ("binary body", SECRET, BODY_BINARY, SIG_BINARY),
        ("non-ASCII secret", UTF8_SECRET, BODY_COMPLETE, SIG_UTF8_SECRET),
    ];
    for (case, secret, body, signature) in known {
        assert_eq!(
            SignatureHeader::sign(secret, T, body).to_string(),
            format!("t={T},v1={signature}"),
            "{case}"
        );
    }
    let both = SignatureHeader::sign(SECRET, T, BODY_COMPLETE)
        .add_signature(ROTATED_SECRET, BODY_COMPLETE);
    assert_eq!(both.to_string(), format!("t={T},v1={SIG_COMPLETE},v1={SIG_ROTATED}"));
    let headers = signed_headers(SECRET, T, BODY_COMPLETE);
    assert_eq!(headers[SIGNATURE_HEADER], format!("t={T},v1={SIG_COMPLETE}").as_str());
    assert_eq!(headers[http::header::CONTENT_TYPE], "application/json");
}

#[test]
fn a_non_ascii_secret_verifies_its_known_answer() {
    let delivery = WebhookVerifier::new(UTF8_SECRET)
        .verify_signed_at(&signature(&format!("t={T},v1={SIG_UTF8_SECRET}")), BODY_COMPLETE, T)
        .unwrap();
    assert_eq!(delivery.webhook_delivery_id, "whd_01");
}

#[test]
fn timestamp_is_signed_as_sent_including_leading_zeros() {
    let delivery = verify_at(&format!("t=0{T},v1={SIG_LEADING_ZERO}"), BODY_COMPLETE, T).unwrap();
    assert_eq!(delivery.timestamp, T);
    // The same digest under the canonical rendering of the timestamp is not valid.
    assert_eq!(
        verify_at(&format!("t={T},v1={SIG_LEADING_ZERO}"), BODY_COMPLETE, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
}

#[test]
fn upper_case_hex_and_whitespace_are_accepted() {
    let upper = SIG_COMPLETE.to_ascii_uppercase();
    verify_at(&format!("t={T},v1={upper}"), BODY_COMPLETE, T).unwrap();
    verify_at(&format!(" t={T} , v1={SIG_COMPLETE} ,"), BODY_COMPLETE, T).unwrap();
    verify_at(&format!("v1={SIG_COMPLETE},t={T}"), BODY_COMPLETE, T).unwrap();
}

#[test]
fn unknown_event_type_is_kept_raw() {
    let delivery = verify_at(&format!("t={T},v1={SIG_UNKNOWN}"), BODY_UNKNOWN, T).unwrap();
    assert_eq!(delivery.webhook_delivery_id, "whd_02");
    assert_eq!(delivery.event.event_type(), "payment.refunded");
    match delivery.event {
        WebhookEvent::Unknown { event_type, data } => {
            assert_eq!(event_type, "payment.refunded");
            assert_eq!(serde_json::Value::Object(data), json!({"amount": 1200}));
        }
        other => panic!("expected an unknown event, got {other:?}"),
    }
}

#[test]
fn undocumented_webhook_name_is_accepted_as_event_type() {
    let body = br#"{"webhook_delivery_id":"w","event_type":"qualification_session_complete","data":{"qualification_session_id":"qs_1","status":"rejected"}}"#;
    let delivery = verifier().verify_signed_at(&signed_headers(SECRET, T, body), body, T).unwrap();
    let WebhookEvent::QualificationSessionComplete(session) = delivery.event else {
        panic!("expected a completed session");
    };
    assert_eq!(session.status, QualificationSessionStatus::Rejected);
}

#[test]
fn unknown_status_and_extra_fields_do_not_fail() {
    let body = br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","extra":1,"data":{"qualification_session_id":"qs_1","status":"expired","new_field":[1,2],"email":null}}"#;
    let delivery = verifier().verify_signed_at(&signed_headers(SECRET, T, body), body, T).unwrap();
    let WebhookEvent::QualificationSessionComplete(session) = delivery.event else {
        panic!("expected a completed session");
    };
    assert_eq!(session.status, QualificationSessionStatus::Unknown("expired".to_owned()));
    assert_eq!(session.email, None);
}

// ---------------------------------------------------------------------------------------------
// Tampering and wrong secrets

#[test]
fn tampered_body_is_refused() {
    let mut body = BODY_COMPLETE.to_vec();
    let at = body.iter().position(|&b| b == b'a').unwrap();
    body[at] = b'b';
    let err = verify_at(&format!("t={T},v1={SIG_COMPLETE}"), &body, T).unwrap_err();
    assert_eq!(err, WebhookError::NoValidSignature);
    assert_eq!(err.status_code(), 401);

    // Re-serialized JSON (whitespace added) is not the signed body either.
    let reserialized = serde_json::to_vec_pretty(
        &serde_json::from_slice::<serde_json::Value>(BODY_COMPLETE).unwrap(),
    )
    .unwrap();
    assert_eq!(
        verify_at(&format!("t={T},v1={SIG_COMPLETE}"), &reserialized, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
    // Truncated or extended bodies.
    let n = BODY_COMPLETE.len();
    for body in [&BODY_COMPLETE[..n - 1], &[BODY_COMPLETE, b" "].concat()[..]] {
        assert_eq!(
            verify_at(&format!("t={T},v1={SIG_COMPLETE}"), body, T).unwrap_err(),
            WebhookError::NoValidSignature
        );
    }
}

#[test]
fn tampered_timestamp_is_refused() {
    for t in [T + 1, T - 1, T + 100] {
        assert_eq!(
            verify_at(&format!("t={t},v1={SIG_COMPLETE}"), BODY_COMPLETE, t).unwrap_err(),
            WebhookError::NoValidSignature,
            "t={t}"
        );
    }
}

#[test]
fn wrong_secret_is_refused() {
    for secret in ["whsec_test_secreT", "whsec_test_secret ", "whsec_test_secre", "x"] {
        let err = WebhookVerifier::new(secret)
            .verify_signed_at(&signature(&format!("t={T},v1={SIG_COMPLETE}")), BODY_COMPLETE, T)
            .unwrap_err();
        assert_eq!(err, WebhookError::NoValidSignature, "secret {secret:?}");
    }
}

#[test]
fn flipped_signature_bit_is_refused() {
    let mut sig = hex::decode(SIG_COMPLETE).unwrap();
    sig[31] ^= 1;
    let sig = hex::encode(sig);
    assert_eq!(
        verify_at(&format!("t={T},v1={sig}"), BODY_COMPLETE, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
}

// ---------------------------------------------------------------------------------------------
// Rotation and versions

#[test]
fn any_valid_v1_among_several_is_accepted() {
    for header in [
        format!("t={T},v1={SIG_BOGUS},v1={SIG_COMPLETE}"),
        format!("t={T},v1={SIG_COMPLETE},v1={SIG_BOGUS}"),
        format!("t={T},v1={SIG_ROTATED},v1={SIG_COMPLETE}"),
        format!("t={T},v1={SIG_BOGUS},v1={SIG_BOGUS},v1={SIG_COMPLETE},v1={SIG_BOGUS}"),
    ] {
        verify_at(&header, BODY_COMPLETE, T).unwrap_or_else(|e| panic!("{header}: {e}"));
    }
    assert_eq!(
        verify_at(&format!("t={T},v1={SIG_BOGUS},v1={SIG_ROTATED}"), BODY_COMPLETE, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
}

#[test]
fn receiver_side_rotation_accepts_any_configured_secret() {
    let header = signature(&format!("t={T},v1={SIG_ROTATED}"));
    assert_eq!(
        verifier().verify_signed_at(&header, BODY_COMPLETE, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
    verifier().also_accept(ROTATED_SECRET).verify_signed_at(&header, BODY_COMPLETE, T).unwrap();
    WebhookVerifier::from_secrets(["nope", ROTATED_SECRET])
        .verify_signed_at(&header, BODY_COMPLETE, T)
        .unwrap();
    WebhookVerifier::from_secrets(vec![ROTATED_SECRET.to_owned()])
        .verify_signed_at(&header, BODY_COMPLETE, T)
        .unwrap();
}

#[test]
fn unknown_versions_are_ignored() {
    let header =
        format!("t={T},v0=deadbeef,v2=not-even-hex,v1={SIG_COMPLETE},scheme=x=y,v10={SIG_BOGUS}");
    verify_at(&header, BODY_COMPLETE, T).unwrap();
    let parsed = SignatureHeader::parse(&header).unwrap();
    assert_eq!(parsed.ignored_elements(), 4);
    assert_eq!(parsed.v1_signatures().len(), 1);

    // A valid digest under another version does not count.
    assert_eq!(
        verify_at(&format!("t={T},v0={SIG_COMPLETE}"), BODY_COMPLETE, T).unwrap_err(),
        malformed(HeaderProblem::NoV1Signature)
    );
    assert_eq!(
        verify_at(&format!("t={T},V1={SIG_COMPLETE}"), BODY_COMPLETE, T).unwrap_err(),
        malformed(HeaderProblem::NoV1Signature)
    );
}

// ---------------------------------------------------------------------------------------------
// Tolerance

#[test]
fn timestamps_at_the_default_tolerance_are_accepted_and_beyond_it_refused() {
    let header = format!("t={T},v1={SIG_COMPLETE}");
    // At the tolerance: accepted, both directions.
    verify_at(&header, BODY_COMPLETE, T + 300).unwrap();
    verify_at(&header, BODY_COMPLETE, T - 300).unwrap();
    // One second beyond: refused, carrying the timestamp, the clock and the tolerance.
    let stale = verify_at(&header, BODY_COMPLETE, T + 301).unwrap_err();
    assert_eq!(
        stale,
        WebhookError::TimestampOutOfTolerance {
            timestamp: T,
            now: T + 301,
            tolerance: Duration::from_secs(300)
        }
    );
    assert!(stale.to_string().contains("past"), "{stale}");
    assert_eq!(stale.status_code(), 401);
    let future = verify_at(&header, BODY_COMPLETE, T - 301).unwrap_err();
    assert_eq!(
        future,
        WebhookError::TimestampOutOfTolerance {
            timestamp: T,
            now: T - 301,
            tolerance: Duration::from_secs(300)
        }
    );
    assert!(future.to_string().contains("future"), "{future}");
    // Far away, including the extremes of the clock.
    for now in [0, i64::MIN, i64::MAX, -T] {
        assert!(matches!(
            verify_at(&header, BODY_COMPLETE, now),
            Err(WebhookError::TimestampOutOfTolerance { .. })
        ));
    }
}

#[test]
fn tolerance_is_configurable() {
    let header = signature(&format!("t={T},v1={SIG_COMPLETE}"));
    assert_eq!(verifier().tolerance(), webhook::DEFAULT_TOLERANCE);
    let strict = verifier().with_tolerance(Duration::from_secs(10));
    assert_eq!(strict.tolerance(), Duration::from_secs(10));
    strict.verify_signed_at(&header, BODY_COMPLETE, T + 10).unwrap();
    strict.verify_signed_at(&header, BODY_COMPLETE, T - 10).unwrap();
    for now in [T + 11, T - 11] {
        assert_eq!(
            strict.verify_signed_at(&header, BODY_COMPLETE, now).unwrap_err(),
            WebhookError::TimestampOutOfTolerance {
                timestamp: T,
                now,
                tolerance: Duration::from_secs(10)
            }
        );
    }
    let exact = verifier().with_tolerance(Duration::ZERO);
    exact.verify_signed_at(&header, BODY_COMPLETE, T).unwrap();
    assert!(exact.verify_signed_at(&header, BODY_COMPLETE, T + 1).is_err());
    let lax = verifier().with_tolerance(Duration::MAX);
    lax.verify_signed_at(&header, BODY_COMPLETE, i64::MAX).unwrap();
    lax.verify_signed_at(&header, BODY_COMPLETE, i64::MIN).unwrap();
    assert_eq!(webhook::DEFAULT_TOLERANCE, Duration::from_secs(300));
}

#[test]
fn a_forged_signature_is_reported_as_such_not_as_stale() {
    // The signature is checked first: an old, tampered delivery is "no valid signature".
    assert_eq!(
        verify_at(&format!("t=1,v1={SIG_COMPLETE}"), BODY_COMPLETE, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
}

#[test]
fn verify_signed_and_verify_signature_use_the_system_clock() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let headers = signed_headers(SECRET, now, BODY_COMPLETE);
    verifier().verify_signed(&headers, BODY_COMPLETE).unwrap();
    verifier().verify_signature(&headers[SIGNATURE_HEADER], BODY_COMPLETE).unwrap();
    let old = signed_headers(SECRET, now - 3600, BODY_COMPLETE);
    assert!(matches!(
        verifier().verify_signed(&old, BODY_COMPLETE),
        Err(WebhookError::TimestampOutOfTolerance { timestamp, .. }) if timestamp == now - 3600
    ));
    assert!(matches!(
        verifier().verify_signature(&old[SIGNATURE_HEADER], BODY_COMPLETE),
        Err(WebhookError::TimestampOutOfTolerance { timestamp, .. }) if timestamp == now - 3600
    ));
}

#[test]
fn the_header_value_methods_take_text_bytes_or_a_header_value() {
    let value = format!("t={T},v1={SIG_COMPLETE}");
    let v = verifier();
    for delivery in [
        v.verify_signature_at(&value, BODY_COMPLETE, T),
        v.verify_signature_at(value.clone(), BODY_COMPLETE, T),
        v.verify_signature_at(value.as_bytes(), BODY_COMPLETE, T),
        v.verify_signature_at(value.clone().into_bytes(), BODY_COMPLETE, T),
        v.verify_signature_at(HeaderValue::from_str(&value).unwrap(), BODY_COMPLETE, T),
    ] {
        assert_eq!(delivery.unwrap().webhook_delivery_id, "whd_01");
    }
    for payload in [
        v.verify_shared_secret(SECRET, FLAT),
        v.verify_shared_secret(String::from(SECRET), FLAT),
        v.verify_shared_secret(SECRET.as_bytes(), FLAT),
        v.verify_shared_secret(HeaderValue::from_static(SECRET), FLAT),
    ] {
        assert_eq!(payload.unwrap().qualification_session_id, "qs_9");
    }
    // A secret that is not UTF-8 is compared as the bytes it is.
    let binary = WebhookVerifier::new(b"\xffsecret".to_vec());
    binary.verify_shared_secret(HeaderValue::from_bytes(b"\xffsecret").unwrap(), FLAT).unwrap();
    assert_eq!(
        binary.verify_shared_secret(b"\xfesecret", FLAT).unwrap_err(),
        WebhookError::BadSharedSecret
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed headers

#[test]
fn each_malformed_signature_header_is_refused_with_its_problem() {
    let sig = SIG_COMPLETE;
    let odd = &SIG_COMPLETE[..63];
    let not_hex = format!("{}z", &SIG_COMPLETE[..63]);
    let cases: Vec<(String, HeaderProblem)> = vec![
        (String::new(), HeaderProblem::Empty),
        ("   ".into(), HeaderProblem::Empty),
        (",,".into(), HeaderProblem::Empty),
        (format!("v1={sig}"), HeaderProblem::MissingTimestamp),
        ("v0=abc,v2=def".into(), HeaderProblem::MissingTimestamp),
        (format!("t=abc,v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (format!("t=,v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (format!("t=-5,v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (format!("t=+5,v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (format!("t=1.5,v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (format!("t=1 2,v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (format!("v1={sig},t=0x10"), HeaderProblem::TimestampNotDigits { position: 2 }),
        (
            format!("t=99999999999999999999,v1={sig}"),
            HeaderProblem::TimestampOutOfRange { position: 1 },
        ),
        (format!("t=1,t=1,v1={sig}"), HeaderProblem::DuplicateTimestamp { position: 2 }),
        (format!("t={T},v1={sig},t={T}"), HeaderProblem::DuplicateTimestamp { position: 3 }),
        (format!("t={T}"), HeaderProblem::NoV1Signature),
        (format!("t={T},v1={odd}"), HeaderProblem::OddHexLength { position: 2 }),
        (format!("t={T},v1=abc"), HeaderProblem::OddHexLength { position: 2 }),
        (format!("t={T},v1={not_hex}"), HeaderProblem::InvalidHexDigit { position: 2 }),
        (
            format!("t={T},v1={sig}00"),
            HeaderProblem::WrongSignatureLength { position: 2, hex_digits: 66 },
        ),
        (format!("t={T},v1="), HeaderProblem::WrongSignatureLength { position: 2, hex_digits: 0 }),
        (
            format!("t={T},v1={sig},v1=abcd"),
            HeaderProblem::WrongSignatureLength { position: 3, hex_digits: 4 },
        ),
        ("garbage".into(), HeaderProblem::MissingEquals { position: 1 }),
        (format!("t={T},garbage,v1={sig}"), HeaderProblem::MissingEquals { position: 2 }),
        (format!("=1,t={T},v1={sig}"), HeaderProblem::EmptyKey { position: 1 }),
        (format!("t={T};v1={sig}"), HeaderProblem::TimestampNotDigits { position: 1 }),
        (
            "sha256=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd".into(),
            HeaderProblem::MissingTimestamp,
        ),
    ];
    for (value, problem) in cases {
        assert_eq!(SignatureHeader::parse(&value).unwrap_err(), problem, "parsing {value:?}");
        let err = verify_at(&value, BODY_COMPLETE, T).unwrap_err();
        assert_eq!(err, malformed(problem.clone()), "verifying {value:?}");
        assert_eq!(err.status_code(), 401, "a malformed header authenticates nothing");
        assert!(err.to_string().contains(&problem.to_string()));
    }
}

#[test]
fn missing_repeated_and_non_ascii_signature_headers_are_refused() {
    let v = verifier();
    let err = v.verify_signed_at(&HeaderMap::new(), BODY_COMPLETE, T).unwrap_err();
    assert_eq!(err, WebhookError::MissingHeader { header: SIGNATURE_HEADER });
    assert_eq!(err.status_code(), 401);

    // An unsigned delivery sent to a signed receiver is "missing header".
    let unsigned = unsigned_headers(SECRET);
    assert_eq!(
        v.verify_signed_at(&unsigned, BODY_COMPLETE, T).unwrap_err(),
        WebhookError::MissingHeader { header: SIGNATURE_HEADER }
    );

    let good = format!("t={T},v1={SIG_COMPLETE}");
    let mut repeated = HeaderMap::new();
    repeated.append(SIGNATURE_HEADER, HeaderValue::from_str(&good).unwrap());
    repeated.append(SIGNATURE_HEADER, HeaderValue::from_str(&good).unwrap());
    assert_eq!(
        v.verify_signed_at(&repeated, BODY_COMPLETE, T).unwrap_err(),
        malformed(HeaderProblem::Repeated { count: 2 })
    );

    let mut non_ascii = HeaderMap::new();
    non_ascii.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_bytes(format!("t={T},v1={SIG_COMPLETE},x=\u{e9}").as_bytes()).unwrap(),
    );
    assert_eq!(
        v.verify_signed_at(&non_ascii, BODY_COMPLETE, T).unwrap_err(),
        malformed(HeaderProblem::NotVisibleAscii)
    );
    // The header-value entry point takes the non-ASCII text and ignores the unknown element.
    v.verify_signature_at(format!("t={T},v1={SIG_COMPLETE},x=\u{e9}"), BODY_COMPLETE, T).unwrap();
    // Bytes that are not UTF-8 are not a signature header.
    assert_eq!(
        v.verify_signature_at(
            [format!("t={T},v1={SIG_COMPLETE},x=").as_bytes(), b"\xff"].concat(),
            BODY_COMPLETE,
            T
        )
        .unwrap_err(),
        malformed(HeaderProblem::NotVisibleAscii)
    );
}

#[test]
fn signature_header_round_trips() {
    let header: SignatureHeader =
        format!("t={T},v1={SIG_COMPLETE},v2=zz,v1={SIG_ROTATED}").parse().unwrap();
    assert_eq!(header.timestamp(), T);
    assert_eq!(header.v1_signatures().len(), 2);
    assert_eq!(hex::encode(header.v1_signatures()[1]), SIG_ROTATED);
    assert_eq!(header.to_string(), format!("t={T},v1={SIG_COMPLETE},v1={SIG_ROTATED}"));
    let debug = format!("{header:?}");
    assert!(debug.contains(SIG_COMPLETE), "{debug}");
}

// ---------------------------------------------------------------------------------------------
// Undecodable bodies (authentic, but not the expected JSON)

#[test]
fn an_authentic_signed_body_that_does_not_decode_is_refused_with_a_bounded_message() {
    let long = "x".repeat(100_000);
    let bodies: Vec<Vec<u8>> = vec![
        BODY_BINARY.to_vec(),
        b"".to_vec(),
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{}".to_vec(),
        br#"{"event_type":"qualification_session.complete","data":{}}"#.to_vec(),
        br#"{"webhook_delivery_id":1,"event_type":"x","data":{}}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"x","data":null}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"x","data":[1]}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"x"}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","webhook_delivery_id":"v","event_type":"x","data":{}}"#
            .to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{}}"#
            .to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{"status":"approved"}}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{"qualification_session_id":"q","status":7}}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{"qualification_session_id":"q","status":"approved","expires_at":"tomorrow"}}"#.to_vec(),
        br#"{"webhook_delivery_id":"w","event_type":"x","data":{}} trailing"#.to_vec(),
        [b"[".repeat(100_000), b"]".repeat(100_000)].concat(),
        format!(r#"{{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{{"qualification_session_id":"q","status":"approved","expires_at":"{long}"}}}}"#).into_bytes(),
        format!(r#"{{"webhook_delivery_id":["{long}"],"event_type":"x","data":{{}}}}"#).into_bytes(),
    ];
    for body in bodies {
        let err =
            verifier().verify_signed_at(&signed_headers(SECRET, T, &body), &body, T).unwrap_err();
        let WebhookError::UndecodableBody { message } = &err else {
            panic!("expected undecodable, got {err:?}");
        };
        assert!(message.chars().count() <= 243, "unbounded message: {message}");
        assert!(err.to_string().len() < 400, "unbounded display: {err}");
        assert_eq!(err.status_code(), 400);
    }
}

#[test]
fn undecodable_message_says_what_failed() {
    let body = br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{"status":"approved"}}"#;
    let err = verifier().verify_signed_at(&signed_headers(SECRET, T, body), body, T).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("qualification_session_id"), "{text}");
    assert!(text.contains("data"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Unsigned deliveries

const FLAT: &[u8] =
    br#"{"qualification_session_id":"qs_9","status":"rejected","email":null,"user_id":"u_1"}"#;

#[test]
fn an_unsigned_delivery_with_the_shared_secret_decodes() {
    let payload = verify_unsigned_with(&verifier(), SECRET, FLAT).unwrap();
    assert_eq!(payload.qualification_session_id, "qs_9");
    assert_eq!(payload.status, QualificationSessionStatus::Rejected);
    assert_eq!(payload.user_id.as_deref(), Some("u_1"));
    assert_eq!(payload.email, None);

    verifier().verify_unsigned(&unsigned_headers(SECRET), FLAT).unwrap();
    verifier().verify_shared_secret(SECRET.as_bytes(), FLAT).unwrap();
    // Any configured secret.
    verify_unsigned_with(&WebhookVerifier::from_secrets(["old", SECRET]), SECRET, FLAT).unwrap();
}

#[test]
fn an_unsigned_delivery_with_another_secret_is_refused() {
    for presented in [
        "",
        "whsec_test_secre",
        "whsec_test_secret_",
        "WHSEC_TEST_SECRET",
        "whsec_test_secreu",
        "x",
    ] {
        let err = verify_unsigned_with(&verifier(), presented, FLAT).unwrap_err();
        assert_eq!(err, WebhookError::BadSharedSecret, "{presented:?}");
        assert_eq!(err.status_code(), 401);
    }
    let headers = headers_with(API_KEY_HEADER, "wrong");
    assert_eq!(
        verifier().verify_unsigned(&headers, FLAT).unwrap_err(),
        WebhookError::BadSharedSecret
    );
}

#[test]
fn an_unsigned_delivery_without_its_header_or_with_it_twice_is_refused() {
    assert_eq!(
        verifier().verify_unsigned(&HeaderMap::new(), FLAT).unwrap_err(),
        WebhookError::MissingHeader { header: API_KEY_HEADER }
    );
    // A signed delivery sent to an unsigned receiver.
    assert_eq!(
        verifier().verify_unsigned(&signed_headers(SECRET, T, FLAT), FLAT).unwrap_err(),
        WebhookError::MissingHeader { header: API_KEY_HEADER }
    );
    let mut repeated = HeaderMap::new();
    repeated.append(API_KEY_HEADER, HeaderValue::from_static(SECRET));
    repeated.append(API_KEY_HEADER, HeaderValue::from_static("other"));
    assert_eq!(
        verifier().verify_unsigned(&repeated, FLAT).unwrap_err(),
        WebhookError::MalformedHeader {
            header: API_KEY_HEADER,
            problem: HeaderProblem::Repeated { count: 2 }
        }
    );
}

#[test]
fn an_authentic_unsigned_body_that_does_not_decode_is_refused() {
    for body in [
        &b""[..],
        b"{}",
        b"\xff",
        br#"{"status":"approved"}"#,
        br#"{"qualification_session_id":1,"status":"approved"}"#,
        BODY_COMPLETE, // an envelope is not the flat payload
    ] {
        let err = verify_unsigned_with(&verifier(), SECRET, body).unwrap_err();
        assert!(matches!(err, WebhookError::UndecodableBody { .. }), "{body:?}: {err:?}");
    }
    // The secret is checked before the body is looked at.
    assert_eq!(
        verify_unsigned_with(&verifier(), "wrong", b"not json").unwrap_err(),
        WebhookError::BadSharedSecret
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration and secrets

#[test]
fn empty_secrets_never_authenticate() {
    let empty = WebhookVerifier::new("");
    let headers = signed_headers("", T, BODY_COMPLETE);
    let err = empty.verify_signed_at(&headers, BODY_COMPLETE, T).unwrap_err();
    assert_eq!(err, WebhookError::NoSecretConfigured);
    assert_eq!(err.status_code(), 500);
    assert_eq!(
        empty.verify_unsigned(&headers_with(API_KEY_HEADER, ""), FLAT).unwrap_err(),
        WebhookError::NoSecretConfigured
    );
    assert_eq!(
        verify_unsigned_with(&WebhookVerifier::from_secrets(Vec::<String>::new()), "", FLAT)
            .unwrap_err(),
        WebhookError::NoSecretConfigured
    );
    // An empty secret next to a real one is skipped, not matched.
    let mixed = WebhookVerifier::from_secrets(["", SECRET]);
    assert_eq!(
        mixed.verify_signed_at(&headers, BODY_COMPLETE, T).unwrap_err(),
        WebhookError::NoValidSignature
    );
    assert_eq!(verify_unsigned_with(&mixed, "", FLAT).unwrap_err(), WebhookError::BadSharedSecret);
    assert!(WebhookSecret::from("").is_empty());
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let verifier = WebhookVerifier::new(SECRET)
        .also_accept(ROTATED_SECRET)
        .also_accept(b"raw-bytes-secret".to_vec());
    let debug = format!("{verifier:?}");
    for secret in [SECRET, ROTATED_SECRET, "raw-bytes-secret"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("redacted"), "{debug}");
    assert!(debug.contains("tolerance"), "{debug}");
    assert_eq!(format!("{:?}", WebhookSecret::from(SECRET)), "WebhookSecret(<redacted>)");

    // Errors carry no secret, whichever way the delivery fails.
    let presented_headers = headers_with(API_KEY_HEADER, SECRET);
    let errors = [
        WebhookVerifier::new("another").verify_unsigned(&presented_headers, FLAT),
        verifier.verify_unsigned(&presented_headers, b"nope"),
    ];
    for err in errors {
        let err = err.unwrap_err();
        for text in [format!("{err:?}"), err.to_string()] {
            assert!(!text.contains(SECRET), "{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building deliveries (for tests of receivers, and the fake)

#[test]
fn an_envelope_built_from_an_event_verifies_back_to_that_event() {
    let payload: QualificationSessionCompleteWebhook = serde_json::from_value(json!({
        "qualification_session_id": "qs_77",
        "status": "approved",
        "user_id": "u_77",
    }))
    .unwrap();
    let envelope = WebhookEvent::QualificationSessionComplete(payload).to_envelope("whd_77");
    let body = serde_json::to_vec(&envelope).unwrap();
    let envelope: WebhookEnvelope = serde_json::from_slice(&body).unwrap();
    assert_eq!(envelope.event_type, webhook::QUALIFICATION_SESSION_COMPLETE);
    let delivery =
        verifier().verify_signed_at(&signed_headers(SECRET, T, &body), &body, T).unwrap();
    assert_eq!(delivery.webhook_delivery_id, "whd_77");
    let WebhookEvent::QualificationSessionComplete(session) = delivery.event else {
        panic!("expected a completed session");
    };
    assert_eq!(session.qualification_session_id, "qs_77");
    assert_eq!(session.user_id.as_deref(), Some("u_77"));
}

#[test]
fn an_unknown_event_goes_back_into_the_envelope_it_came_in() {
    let delivery = verify_at(&format!("t={T},v1={SIG_UNKNOWN}"), BODY_UNKNOWN, T).unwrap();
    let envelope = delivery.event.to_envelope(&delivery.webhook_delivery_id);
    assert_eq!(
        serde_json::to_value(&envelope).unwrap(),
        serde_json::from_slice::<serde_json::Value>(BODY_UNKNOWN).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Never panics (a deterministic smoke test; `fuzz/` goes further)

#[test]
fn arbitrary_inputs_never_panic() {
    let alphabet: &[u8] = b"tv01=,; 9aZf\t-+.xX\xff\"{}[]:";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let v = verifier();
    for _ in 0..20_000 {
        let len = (next() % 80) as usize;
        let bytes: Vec<u8> =
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = SignatureHeader::parse(&text);
        let _ = v.verify_signature_at(&*text, &bytes, T);
        let _ = v.verify_signature_at(&bytes, &bytes, T);
        let _ = v.verify_signed_at(&signed_headers(SECRET, T, &bytes), &bytes, T);
        let _ = v.verify_shared_secret(SECRET, &bytes);
        let _ = v.verify_shared_secret(&bytes, &bytes);
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            let mut headers = HeaderMap::new();
            headers.insert(SIGNATURE_HEADER, value);
            let _ = v.verify_signed_at(&headers, &bytes, T);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Personal data in refusals, over HTTP

/// A receiver on 127.0.0.1 answering each delivery with the refusal's status, and its
/// `Display` and `Debug` as the body (what a receiver would log). Returns its URL.
async fn refusing_receiver() -> String {
    async fn receive(headers: HeaderMap, body: axum::body::Bytes) -> (http::StatusCode, String) {
        let verifier = verifier();
        let refusal = if headers.contains_key(SIGNATURE_HEADER) {
            verifier.verify_signed_at(&headers, &body, T).map(|_| ()).err()
        } else {
            verifier.verify_unsigned(&headers, &body).map(|_| ()).err()
        };
        match refusal {
            Some(error) => (error.status_code(), format!("{error}\n{error:?}")),
            None => (http::StatusCode::OK, String::new()),
        }
    }
    let app = axum::Router::new().route("/webhook", axum::routing::post(receive));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn an_undecodable_delivery_shows_no_value_of_its_body_in_the_refusal() {
    let url = refusing_receiver().await;
    let http = reqwest::Client::new();
    let signed: [&[u8]; 5] = [
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":"ada@example.com"}"#,
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{"qualification_session_id":"q","status":"approved","user_id":5551234567}}"#,
        br#"{"webhook_delivery_id":"w","event_type":"qualification_session.complete","data":{"qualification_session_id":"q","status":"approved","email":-5551234567.5}}"#,
        br#"{"webhook_delivery_id":5551234567,"event_type":"x","data":{}}"#,
        "{\"webhook_delivery_id\":[\"ada@example.com\u{202E}\u{2028}\"],\"event_type\":\"x\",\"data\":{}}".as_bytes(),
    ];
    let unsigned: [&[u8]; 2] = [
        br#"{"qualification_session_id":"qs_9","status":"rejected","email":5551234567}"#,
        br#"{"qualification_session_id":"qs_9","status":"rejected","user_id":"ada@example.com","email":{"ada@example.com":1}}"#,
    ];
    let deliveries = signed
        .iter()
        .map(|body| (signed_headers(SECRET, T, body), *body))
        .chain(unsigned.iter().map(|body| (unsigned_headers(SECRET), *body)));
    for (headers, body) in deliveries {
        let answer = http.post(&url).headers(headers).body(body.to_vec()).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{}", String::from_utf8_lossy(body));
        let text = answer.text().await.unwrap();
        assert!(text.contains("could not be decoded"), "{text}");
        for value in ["ada@example.com", "ada", "5551234567", "555123"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
        for c in ['\u{202E}', '\u{2028}'] {
            assert!(!text.contains(c), "{c:?} in {text:?}");
        }
    }
}
