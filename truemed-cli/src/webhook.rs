//! `webhook verify`: a captured delivery checked with the library's verifier.

use std::io::{self, Read as _};
use std::path::Path;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use truemed_ext::webhook::{WebhookError, WebhookEvent, WebhookVerifier, SIGNATURE_HEADER};
use truemed_ext::API_KEY_HEADER;

use crate::cli::{OutputFormat, VerifyArgs};
use crate::config::read_secret_file;
use crate::fail::{add_secret, code, redact, Failure};
use crate::output::{to_stdout, write_value};

/// The environment variable `webhook verify` reads the secret from, when neither
/// `--secret` nor `--secret-file` is given.
pub const SECRET_ENV: &str = "TRUEMED_WEBHOOK_SECRET";

/// The secret: `--secret`, `--secret-file`, else `TRUEMED_WEBHOOK_SECRET`.
fn secret(args: &VerifyArgs) -> Result<String, Failure> {
    if let Some(secret) = &args.secret {
        return Ok(secret.clone());
    }
    if let Some(path) = &args.secret_file {
        return read_secret_file(path, "webhook secret");
    }
    match std::env::var(SECRET_ENV) {
        Ok(secret) if !secret.trim().is_empty() => Ok(secret.trim().to_owned()),
        _ => Err(Failure::usage(format!(
            "no webhook secret: pass --secret-file FILE, set {SECRET_ENV}, or --secret SECRET"
        ))),
    }
}

/// Reads `Name: value` lines. A request line (`POST /path HTTP/1.1`) first is skipped, and
/// so are blank lines; anything else that is not a header is an error naming its line.
pub fn parse_headers(text: &str) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            if i == 0 && line.contains(" HTTP/") {
                continue;
            }
            return Err(format!("line {} is not `Name: value`", i + 1));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("line {}: not a header name", i + 1))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("line {}: not a header value", i + 1))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn read_body(path: &Path) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        let mut body = Vec::new();
        io::stdin().read_to_end(&mut body).map_err(|e| Failure::file("cannot read", path, &e))?;
        return Ok(body);
    }
    std::fs::read(path).map_err(|e| Failure::file("cannot read the body file", path, &e))
}

/// `webhook verify`.
pub fn verify(format: OutputFormat, args: &VerifyArgs) -> Result<(), Failure> {
    let secret = secret(args)?;
    add_secret(&secret);
    let text = std::fs::read_to_string(&args.headers)
        .map_err(|e| Failure::file("cannot read the headers file", &args.headers, &e))?;
    let headers = parse_headers(&text).map_err(|why| {
        Failure::new(code::FAILED, format!("the headers file {}: {why}", args.headers.display()))
    })?;
    let body = read_body(&args.body_file)?;
    let mut verifier = WebhookVerifier::new(secret);
    if let Some(seconds) = args.tolerance {
        verifier = verifier.with_tolerance(Duration::from_secs(seconds));
    }
    let refused = |error: WebhookError| {
        let hint = match &error {
            WebhookError::TimestampOutOfTolerance { timestamp, .. } => format!(
                "\na captured delivery is checked against the clock: pass --now {timestamp} to check it as of its signing"
            ),
            _ => String::new(),
        };
        Failure::new(code::FAILED, format!("the delivery does not verify: {error}{hint}"))
    };
    let value = if headers.contains_key(SIGNATURE_HEADER) {
        let delivery = match args.now {
            Some(now) => verifier.verify_signed_at(&headers, &body, now),
            None => verifier.verify_signed(&headers, &body),
        }
        .map_err(refused)?;
        let (event_type, data) = match &delivery.event {
            WebhookEvent::QualificationSessionComplete(payload) => (
                delivery.event.event_type().to_owned(),
                serde_json::to_value(payload).unwrap_or_default(),
            ),
            WebhookEvent::Unknown { event_type, data } => {
                (event_type.clone(), serde_json::Value::Object(data.clone()))
            }
            _ => (delivery.event.event_type().to_owned(), serde_json::Value::Null),
        };
        json!({
            "valid": true,
            "method": "signed",
            "webhook_delivery_id": delivery.webhook_delivery_id,
            "timestamp": delivery.timestamp,
            "event_type": event_type,
            "data": data,
        })
    } else if headers.contains_key(API_KEY_HEADER) {
        let payload = verifier.verify_unsigned(&headers, &body).map_err(refused)?;
        json!({
            "valid": true,
            "method": "unsigned",
            "webhook_delivery_id": null,
            "timestamp": null,
            "event_type": "qualification_session_complete",
            "data": payload,
        })
    } else {
        return Err(Failure::new(
            code::FAILED,
            format!(
                "the delivery does not verify: neither `{SIGNATURE_HEADER}` (signed deliveries) nor `{API_KEY_HEADER}` (unsigned ones) is among the headers of {}",
                redact(&args.headers.display().to_string())
            ),
        ));
    };
    to_stdout(|out| write_value(out, format, &value))
}
