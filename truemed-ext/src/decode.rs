//! Why a success body does not decode: [`describe_decode_failure`] names the item (its
//! index and session id) and the field path at fault, with no value from the body.
//!
//! The generated client decodes; when it fails, the body is decoded again here through
//! `serde_path_to_error` to find where, and the decoder's message is redacted
//! ([`redact_decode_message`]).

use serde::de::DeserializeOwned;

use crate::redact::{printable, redact_decode_message};

/// Why `body` does not decode as `T`, naming the item (index and id) and the field path,
/// and holding no value from the body.
pub(crate) fn describe_decode_failure<T: DeserializeOwned>(body: &[u8]) -> String {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(_) => return "the body decoded on a second reading".to_owned(),
        Err(error) => error,
    };
    let reason = redact_decode_message(&error.inner().to_string());
    let path = error.path();
    if path.iter().next().is_none() {
        return reason;
    }
    let shown = shown_path(path);
    // The id of the session the failing field belongs to, when the body says.
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let mut node = value.as_ref();
    let mut id = None;
    for segment in path.iter() {
        if let Some(found) =
            node.and_then(|n| n.get("qualification_session_id")).and_then(|v| v.as_str())
        {
            id = Some(found);
        }
        node = match segment {
            serde_path_to_error::Segment::Seq { index } => node.and_then(|n| n.get(*index)),
            serde_path_to_error::Segment::Map { key } => node.and_then(|n| n.get(key.as_str())),
            _ => None,
        };
    }
    match id {
        Some(id) => format!("{shown} (session {}): {reason}", printable(id, 100)),
        None => format!("{shown}: {reason}"),
    }
}

/// `path` as text (`items[1].field`), each key shown only when it could be a field of
/// the API (a letter or `_`, then letters, digits and `_`): a key of another shape came
/// from the body, not from the schema, and may be personal data, so it shows as `…`.
fn shown_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let field_like = |name: &str| {
        name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let mut out = String::new();
    for segment in path.iter() {
        if !out.is_empty() && !matches!(segment, Segment::Seq { .. }) {
            out.push('.');
        }
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if field_like(key) => out.push_str(key),
            Segment::Enum { variant } if field_like(variant) => out.push_str(variant),
            Segment::Map { .. } | Segment::Enum { .. } => out.push('…'),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_failures_name_the_item_and_field() {
        let body = br#"{"qualification_sessions":[
            {"qualification_session_id":"qs_1","status":"approved"},
            {"qualification_session_id":"qs_2","status":"approved","created_at":"ada@example.com"}
        ]}"#;
        let reason =
            describe_decode_failure::<truemed_api::types::ListQualificationSessionsResponse>(body);
        assert!(
            reason.starts_with("qualification_sessions[1].created_at (session qs_2): "),
            "{reason}"
        );
        assert!(!reason.contains("ada"), "{reason}");
    }
}
