//! Fuzzes the decoders of signed envelopes and unsigned payloads, behind valid authentication.
//!
//! The input is the body. It is signed with the verifier's secret (and sent with the right
//! shared secret), so every refusal must be `UndecodableBody`; nothing may panic; an accepted
//! completed-session event re-encodes to an envelope that verifies and decodes again.
//!
//! `corpus/decode_delivery/*.json` holds inputs that once failed (timestamps that decoded but
//! re-encoded to text that did not); `cargo fuzz run decode_delivery` starts from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use truemed_ext::webhook::{SignatureHeader, WebhookError, WebhookEvent, WebhookVerifier};

const SECRET: &str = "whsec_fuzz";
const T: i64 = 1_700_000_000;

fn sign(body: &[u8]) -> String {
    SignatureHeader::sign(SECRET, T, body).to_string()
}

fuzz_target!(|body: &[u8]| {
    let verifier = WebhookVerifier::new(SECRET);

    match verifier.verify_signature_at(sign(body), body, T) {
        Ok(delivery) => {
            if let WebhookEvent::QualificationSessionComplete(session) = &delivery.event {
                let envelope = delivery.event.to_envelope(delivery.webhook_delivery_id.clone());
                let again = serde_json::to_vec(&envelope).expect("an envelope encodes");
                let redelivered = verifier
                    .verify_signature_at(sign(&again), &again, T)
                    .expect("a re-encoded envelope verifies and decodes");
                assert_eq!(redelivered.webhook_delivery_id, delivery.webhook_delivery_id);
                match redelivered.event {
                    WebhookEvent::QualificationSessionComplete(other) => {
                        assert_eq!(
                            other.qualification_session_id,
                            session.qualification_session_id
                        );
                        assert_eq!(other.status, session.status);
                    }
                    other => panic!("re-encoded event decoded as {other:?}"),
                }
            }
        }
        Err(WebhookError::UndecodableBody { message }) => assert!(message.chars().count() <= 243),
        Err(other) => panic!("authentic delivery refused: {other:?}"),
    }

    match verifier.verify_shared_secret(SECRET, body) {
        Ok(_) => {}
        Err(WebhookError::UndecodableBody { message }) => assert!(message.chars().count() <= 243),
        Err(other) => panic!("authentic unsigned delivery refused: {other:?}"),
    }
});
