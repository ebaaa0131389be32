//! The `x-truemed-signature` header: parsing, formatting and HMAC computation.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::wire::{
    ELEMENT_SEPARATOR, KEY_VALUE_SEPARATOR, SIGNED_PAYLOAD_SEPARATOR, TIMESTAMP_KEY, V1_KEY,
};

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of one `v1` signature (an HMAC-SHA256 digest).
const V1_LEN: usize = 32;

/// What is wrong with a webhook header; carried by
/// [`WebhookError::MalformedHeader`](super::WebhookError::MalformedHeader).
///
/// Positions count the comma-separated elements of the header from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The header holds bytes other than visible ASCII, spaces and tabs.
    NotVisibleAscii,
    /// The header appears more than once in the request.
    Repeated {
        /// How many times it appears.
        count: usize,
    },
    /// The header is empty (or only whitespace and commas).
    Empty,
    /// An element is not of the form `key=value`.
    MissingEquals {
        /// The element's position, from 1.
        position: usize,
    },
    /// An element has an empty key (`=value`).
    EmptyKey {
        /// The element's position, from 1.
        position: usize,
    },
    /// There is no `t=` element.
    MissingTimestamp,
    /// There is more than one `t=` element.
    DuplicateTimestamp {
        /// The position of the second `t=` element, from 1.
        position: usize,
    },
    /// The `t=` value is not a non-empty string of ASCII digits.
    TimestampNotDigits {
        /// The element's position, from 1.
        position: usize,
    },
    /// The `t=` value does not fit in an `i64` of seconds.
    TimestampOutOfRange {
        /// The element's position, from 1.
        position: usize,
    },
    /// There is no `v1=` element (elements of other versions are ignored, so they do not
    /// count).
    NoV1Signature,
    /// A `v1=` value has an odd number of characters, so it is not hex.
    OddHexLength {
        /// The element's position, from 1.
        position: usize,
    },
    /// A `v1=` value holds a character that is not a hex digit.
    InvalidHexDigit {
        /// The element's position, from 1.
        position: usize,
    },
    /// A `v1=` value is hex but not the 64 hex digits of an HMAC-SHA256 digest.
    WrongSignatureLength {
        /// The element's position, from 1.
        position: usize,
        /// How many hex digits it has.
        hex_digits: usize,
    },
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotVisibleAscii => f.write_str("it holds bytes other than visible ASCII"),
            Self::Repeated { count } => write!(f, "it appears {count} times instead of once"),
            Self::Empty => f.write_str("it is empty"),
            Self::MissingEquals { position } => {
                write!(f, "element {position} is not of the form `key=value`")
            }
            Self::EmptyKey { position } => write!(f, "element {position} has an empty key"),
            Self::MissingTimestamp => write!(f, "it has no `{TIMESTAMP_KEY}=` timestamp"),
            Self::DuplicateTimestamp { position } => {
                write!(f, "element {position} is a second `{TIMESTAMP_KEY}=` timestamp")
            }
            Self::TimestampNotDigits { position } => {
                write!(f, "the timestamp (element {position}) is not unix seconds as ASCII digits")
            }
            Self::TimestampOutOfRange { position } => {
                write!(f, "the timestamp (element {position}) is too large")
            }
            Self::NoV1Signature => write!(f, "it has no `{V1_KEY}=` signature"),
            Self::OddHexLength { position } => {
                write!(f, "the signature in element {position} has an odd number of hex digits")
            }
            Self::InvalidHexDigit { position } => write!(
                f,
                "the signature in element {position} holds a character that is not a hex digit"
            ),
            Self::WrongSignatureLength { position, hex_digits } => write!(
                f,
                "the signature in element {position} has {hex_digits} hex digits instead of {}",
                V1_LEN * 2
            ),
        }
    }
}

impl std::error::Error for HeaderProblem {}

/// A parsed `x-truemed-signature` header: a timestamp and one or more `v1` signatures.
///
/// The syntax, `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, is **\[INFERRED\]** (see the
/// [module docs](super#inferred-wire-format)). Parsing never panics; elements with unknown
/// keys (other versions) are ignored. [`SignatureHeader::sign`] builds one, and its `Display`
/// is the header's value.
///
/// ```
/// use truemed_ext::webhook::SignatureHeader;
///
/// let header = SignatureHeader::sign("whsec_example", 1_700_000_000, b"{}");
/// let text = header.to_string();
/// assert!(text.starts_with("t=1700000000,v1="));
/// let parsed = SignatureHeader::parse(&text).unwrap();
/// assert_eq!(parsed, header);
/// assert_eq!(parsed.timestamp(), 1_700_000_000);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    timestamp: i64,
    /// The timestamp exactly as sent: the signed string uses it verbatim.
    timestamp_text: String,
    v1: Vec<[u8; V1_LEN]>,
    ignored: usize,
}

impl SignatureHeader {
    /// Parses the value of an `x-truemed-signature` header.
    ///
    /// Spaces and tabs around elements and empty elements are tolerated; elements whose key is
    /// neither `t` nor `v1` are ignored. A missing or repeated `t`, a `t` that is not ASCII
    /// digits, the absence of any `v1`, or a `v1` that is not 64 hex digits is an error.
    pub fn parse(value: &str) -> Result<Self, HeaderProblem> {
        let mut timestamp: Option<(i64, &str)> = None;
        let mut v1 = Vec::new();
        let mut ignored = 0usize;
        let mut seen_element = false;

        for (index, element) in value.split(ELEMENT_SEPARATOR).enumerate() {
            let position = index + 1;
            let element = element.trim_matches([' ', '\t']);
            if element.is_empty() {
                continue;
            }
            seen_element = true;
            let Some((key, val)) = element.split_once(KEY_VALUE_SEPARATOR) else {
                return Err(HeaderProblem::MissingEquals { position });
            };
            if key.is_empty() {
                return Err(HeaderProblem::EmptyKey { position });
            }
            if key == TIMESTAMP_KEY {
                if timestamp.is_some() {
                    return Err(HeaderProblem::DuplicateTimestamp { position });
                }
                if val.is_empty() || !val.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeaderProblem::TimestampNotDigits { position });
                }
                let seconds = val
                    .parse::<i64>()
                    .map_err(|_| HeaderProblem::TimestampOutOfRange { position })?;
                timestamp = Some((seconds, val));
            } else if key == V1_KEY {
                let mut digest = [0u8; V1_LEN];
                hex::decode_to_slice(val, &mut digest).map_err(|e| match e {
                    hex::FromHexError::OddLength => HeaderProblem::OddHexLength { position },
                    hex::FromHexError::InvalidStringLength => {
                        HeaderProblem::WrongSignatureLength { position, hex_digits: val.len() }
                    }
                    hex::FromHexError::InvalidHexCharacter { .. } => {
                        HeaderProblem::InvalidHexDigit { position }
                    }
                })?;
                v1.push(digest);
            } else {
                ignored += 1;
            }
        }

        if !seen_element {
            return Err(HeaderProblem::Empty);
        }
        let Some((timestamp, timestamp_text)) = timestamp else {
            return Err(HeaderProblem::MissingTimestamp);
        };
        if v1.is_empty() {
            return Err(HeaderProblem::NoV1Signature);
        }
        Ok(Self { timestamp, timestamp_text: timestamp_text.to_owned(), v1, ignored })
    }

    /// Signs `body` at `timestamp` (unix seconds) with `secret` the way Truemed does, with one
    /// `v1` signature: the value of the [`SIGNATURE_HEADER`](super::SIGNATURE_HEADER) header
    /// is its `to_string()`, e.g. `t=1700000000,v1=5f3c...`. The one way this crate signs, for
    /// tests of receivers and for fakes of Truemed. Add more signatures (sender-side rotation)
    /// with [`SignatureHeader::add_signature`].
    ///
    /// Timestamps are unix seconds and should not be negative: a negative one produces a
    /// header that [`SignatureHeader::parse`] refuses.
    pub fn sign(secret: impl AsRef<[u8]>, timestamp: i64, body: &[u8]) -> Self {
        let timestamp_text = timestamp.to_string();
        let digest = hmac_sha256(secret.as_ref(), &timestamp_text, body).unwrap_or_default();
        Self { timestamp, timestamp_text, v1: vec![digest], ignored: 0 }
    }

    /// Adds a `v1` signature of `body` at this header's timestamp with another secret, as a
    /// sender does while rotating its secret.
    #[must_use]
    pub fn add_signature(mut self, secret: impl AsRef<[u8]>, body: &[u8]) -> Self {
        let digest = hmac_sha256(secret.as_ref(), &self.timestamp_text, body).unwrap_or_default();
        self.v1.push(digest);
        self
    }

    /// The timestamp, in unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The `v1` signatures (HMAC-SHA256 digests), in header order.
    pub fn v1_signatures(&self) -> &[[u8; 32]] {
        &self.v1
    }

    /// How many elements were ignored because their key is neither `t` nor `v1`.
    pub fn ignored_elements(&self) -> usize {
        self.ignored
    }

    /// Whether any `v1` signature is the HMAC-SHA256 of `{t}.{body}` under any of `secrets`.
    ///
    /// Every comparison runs in constant time, and all of them run whatever the outcome.
    /// Empty secrets never match.
    pub(crate) fn matches_any<'a>(
        &self,
        secrets: impl IntoIterator<Item = &'a [u8]>,
        body: &[u8],
    ) -> bool {
        let mut matched = Choice::from(0u8);
        for secret in secrets {
            if secret.is_empty() {
                continue;
            }
            let Some(expected) = hmac_sha256(secret, &self.timestamp_text, body) else {
                continue;
            };
            for candidate in &self.v1 {
                matched |= expected.ct_eq(candidate);
            }
        }
        matched.into()
    }
}

impl fmt::Display for SignatureHeader {
    /// Formats the header value: `t=<timestamp>,v1=<hex>[,v1=<hex>...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TIMESTAMP_KEY}{KEY_VALUE_SEPARATOR}{}", self.timestamp_text)?;
        for digest in &self.v1 {
            write!(f, "{ELEMENT_SEPARATOR}{V1_KEY}{KEY_VALUE_SEPARATOR}{}", hex::encode(digest))?;
        }
        Ok(())
    }
}

impl fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureHeader")
            .field("timestamp", &self.timestamp)
            .field("v1", &self.v1.iter().map(hex::encode).collect::<Vec<String>>())
            .field("ignored_elements", &self.ignored)
            .finish()
    }
}

impl FromStr for SignatureHeader {
    type Err = HeaderProblem;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// HMAC-SHA256 of `{timestamp_text}.{body}` keyed with `secret`.
///
/// HMAC takes keys of any length (RFC 2104), so this is always `Some`; the `Option` only keeps
/// the code free of panics, and verification fails closed on `None`.
fn hmac_sha256(secret: &[u8], timestamp_text: &str, body: &[u8]) -> Option<[u8; V1_LEN]> {
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(timestamp_text.as_bytes());
    mac.update(&[SIGNED_PAYLOAD_SEPARATOR]);
    mac.update(body);
    Some(mac.finalize().into_bytes().into())
}
