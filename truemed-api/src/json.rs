//! How the generated client decodes a JSON response body.

use progenitor_client::{Error, ResponseValue};
use serde::de::DeserializeOwned;

/// progenitor's `ResponseValue::from_response`, decoding with [`from_bytes`]: the
/// generated client calls this instead (the xtask rewrites the calls), with the same
/// errors.
pub(crate) async fn response_value<T: DeserializeOwned, E>(
    mut response: reqwest::Response,
) -> Result<ResponseValue<T>, Error<E>> {
    let status = response.status();
    // Taken, not copied: reading the body does not look at them.
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await.map_err(Error::ResponseBodyError)?;
    let inner = from_bytes(&body).map_err(|error| Error::InvalidResponsePayload(body, error))?;
    Ok(ResponseValue::new(inner, status, headers))
}

/// Decodes `body` as JSON. It is checked as UTF-8 once, then parsed as text: serde_json
/// parses text faster than bytes, which it checks string by string (about a sixth of a
/// page's decode). A body that is not UTF-8 is parsed as bytes, for serde_json's own error.
fn from_bytes<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_bytes_decode_alike_and_invalid_utf8_gets_serde_jsons_error() {
        let value: serde_json::Value = from_bytes(br#"{"name": "caf\u00e9", "n": 1}"#).unwrap();
        assert_eq!(value, serde_json::json!({"name": "café", "n": 1}));
        let utf8 = "{\"name\": \"café\"}";
        let value: serde_json::Value = from_bytes(utf8.as_bytes()).unwrap();
        assert_eq!(value["name"], "café");

        let invalid = b"{\"name\": \"caf\xe9\"}";
        let ours = from_bytes::<serde_json::Value>(invalid).unwrap_err();
        let theirs = serde_json::from_slice::<serde_json::Value>(invalid).unwrap_err();
        assert_eq!(ours.to_string(), theirs.to_string());

        let syntax = b"{\"name\": }";
        let ours = from_bytes::<serde_json::Value>(syntax).unwrap_err();
        let theirs = serde_json::from_slice::<serde_json::Value>(syntax).unwrap_err();
        assert_eq!(ours.to_string(), theirs.to_string());
    }
}
