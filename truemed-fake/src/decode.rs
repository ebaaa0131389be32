//! The one way the fake reads the JSON it is given (control API bodies, seed files): serde,
//! tracking the path of the value at fault, into types that check what they hold, so that
//! every refusal is a message starting with the field's path (`faults[0].fault.kind:
//! expected one of ...`). A value of the wrong type, out of range, or not one of a field's
//! words is refused the same way, whatever the field.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

/// Why JSON was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not JSON at all (serde_json's message, with its position).
    Syntax(String),
    /// JSON, but a value is wrong: the message starts with the field's path (or, for the
    /// value as a whole, says what it should be).
    Field(String),
}

/// Decodes `text` as one `T`, with nothing after it.
pub(crate) fn decode<T: DeserializeOwned>(text: &[u8]) -> Result<T, Refusal> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Refusal::Syntax(inner.to_string())
        } else {
            Refusal::Field(field_message(&path, &inner.to_string()))
        }
    })?;
    deserializer.end().map_err(|e| Refusal::Syntax(e.to_string()))?;
    Ok(parsed)
}

/// Decodes a JSON value already read as `T`; the message starts with the field's path.
pub(crate) fn decode_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| field_message(&e.path().to_string(), &e.inner().to_string()))
}

/// serde's message for the value at `path`, rewritten to start with the field's path.
///
/// A message of a type below (or of a `try_from` conversion) that starts with a field
/// name and `: ` is about that field inside the value at `path`.
pub(crate) fn field_message(path: &str, message: &str) -> String {
    // serde_json says "... at line 1 column 20"; the field's path says more.
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let root = path == "." || path.is_empty();
    let join = |field: &str| -> String {
        if root {
            field.to_owned()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(field) = backticked(message, "missing field `") {
        return format!("{}: this field is required.", join(field));
    }
    if let Some(field) = backticked(message, "unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, expected)| format!(" (expected {expected})"))
            .unwrap_or_default();
        return format!("{}: unknown field{expected}.", join(field));
    }
    if let Some((field, rest)) = message.split_once(": ").filter(|(f, _)| is_field_name(f)) {
        return format!("{}: {}", join(field), sentence(rest));
    }
    if root {
        return sentence(message);
    }
    format!("{path}: {}", sentence(message))
}

/// `text` ending with one full stop.
fn sentence(text: &str) -> String {
    if text.ends_with('.') {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

/// Whether `text` is a field name as this crate's bodies spell them (`retry_after_ms`).
fn is_field_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The text between `start` and the next backtick.
fn backticked<'m>(message: &'m str, start: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(start)?;
    rest.split_once('`').map(|(field, _)| field)
}

/// What a refused value was, for messages: short, and never more than 64 characters of it.
pub(crate) struct Shown<'a>(pub(crate) Unexpected<'a>);

/// A value a visitor was given.
#[derive(Clone, Copy)]
pub(crate) enum Unexpected<'a> {
    Str(&'a str),
    Bool(bool),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Null,
    Array,
    Object,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Str(text) => {
                let mut shown: String = text.chars().take(64).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                write!(f, "the string {shown:?}")
            }
            Unexpected::Bool(b) => write!(f, "{b}"),
            Unexpected::Signed(n) => write!(f, "{n}"),
            Unexpected::Unsigned(n) => write!(f, "{n}"),
            Unexpected::Float(x) => write!(f, "{x}"),
            Unexpected::Null => f.write_str("null"),
            Unexpected::Array => f.write_str("an array"),
            Unexpected::Object => f.write_str("an object"),
        }
    }
}

/// A visitor for a value of one JSON type, whose every other value is refused with
/// `expected {what}, got {the value}`; `check` reads the values it takes.
struct Checked<T, F> {
    what: String,
    check: F,
    _out: PhantomData<fn() -> T>,
}

impl<'de, T, F> Visitor<'de> for Checked<T, F>
where
    F: FnOnce(Unexpected<'_>) -> Result<T, String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.check)(Unexpected::Str(v)).map_err(E::custom)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        (self.check)(Unexpected::Bool(v)).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.check)(Unexpected::Signed(v)).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.check)(Unexpected::Unsigned(v)).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.check)(Unexpected::Float(v)).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        (self.check)(Unexpected::Null).map_err(E::custom)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        (self.check)(Unexpected::Array).map_err(de::Error::custom)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        (self.check)(Unexpected::Object).map_err(de::Error::custom)
    }
}

/// Reads any JSON value with `check`, `what` saying what is expected.
fn checked<'de, D, T>(
    deserializer: D,
    what: String,
    check: impl FnOnce(Unexpected<'_>) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(Checked { what, check, _out: PhantomData })
}

/// Reads one of `words` (a JSON string); anything else is refused with the words.
pub(crate) fn word<'de, D, T>(
    deserializer: D,
    words: &'static [&'static str],
    from_word: fn(&str) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let list = words.iter().map(|word| format!("{word:?}")).collect::<Vec<_>>().join(", ");
    let what = format!("one of {list}");
    checked(deserializer, what.clone(), |value| {
        match value {
            Unexpected::Str(text) => from_word(text),
            _ => None,
        }
        .ok_or_else(|| format!("expected {what}, got {}", Shown(value)))
    })
}

/// Declares an enum of a fixed set of words, read from JSON strings: any other value
/// (another word, or not a string at all) is refused with the words it takes.
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every word, in order.
            #[allow(dead_code)]
            pub(crate) const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word of this value.
            #[allow(dead_code)]
            pub(crate) fn word(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }

            fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::decode::word(deserializer, Self::WORDS, Self::from_word)
            }
        }
    };
}
pub(crate) use words;

/// A whole number from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Whole<const MIN: u64, const MAX: u64>(pub(crate) u64);

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Whole<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let what = format!("a whole number from {MIN} to {MAX}");
        checked(deserializer, what.clone(), |value| match value {
            Unexpected::Unsigned(n) if (MIN..=MAX).contains(&n) => Ok(Self(n)),
            Unexpected::Unsigned(_) | Unexpected::Signed(_) => {
                Err(format!("{} is out of range; use {MIN} to {MAX}", Shown(value)))
            }
            _ => Err(format!("expected {what}, got {}", Shown(value))),
        })
    }
}

impl<const MIN: u64, const MAX: u64> Whole<MIN, MAX> {
    /// The number, as a `u32` (every `MAX` used with it fits).
    pub(crate) fn as_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

/// A number (whole or not) within `range`, `what` saying which.
pub(crate) fn number_within<'de, D>(
    deserializer: D,
    range: std::ops::RangeInclusive<f64>,
    above_start: bool,
) -> Result<f64, D::Error>
where
    D: Deserializer<'de>,
{
    let (start, end) = (*range.start(), *range.end());
    let bounds = if above_start {
        format!("above {start} and at most {end}")
    } else {
        format!("from {start} to {end}")
    };
    let what = format!("a number {bounds}");
    checked(deserializer, what.clone(), |value| {
        let x = match value {
            Unexpected::Unsigned(n) => n as f64,
            Unexpected::Signed(n) => n as f64,
            Unexpected::Float(x) => x,
            _ => return Err(format!("expected {what}, got {}", Shown(value))),
        };
        if range.contains(&x) && !(above_start && x == start) {
            Ok(x)
        } else {
            Err(format!("{} is out of range; use a number {bounds}", Shown(value)))
        }
    })
}

/// A date-time the way the API sends them: RFC 3339 (`2024-01-02T09:00:00Z`), strictly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rfc3339(pub(crate) DateTime<Utc>);

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let what = "an RFC 3339 date-time such as 2024-01-02T09:00:00Z";
        checked(deserializer, what.to_owned(), |value| match value {
            Unexpected::Str(text) => DateTime::parse_from_rfc3339(text)
                .map(|at| Self(at.with_timezone(&Utc)))
                .map_err(|e| format!("{} is not {what} ({e})", Shown(value))),
            _ => Err(format!("expected {what}, got {}", Shown(value))),
        })
    }
}

/// For `Option<Option<T>>` fields: absent is `None`; present (even null) is `Some`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    words! {
        enum Colour {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        colour: Option<Colour>,
        count: Option<Whole<1, 10>>,
        share: Option<Share>,
        #[serde(default)]
        inner: Vec<Inner>,
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Share(f64);

    impl<'de> Deserialize<'de> for Share {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            number_within(deserializer, 0.0..=1.0, true).map(Share)
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        colour: Colour,
    }

    fn refused(body: &str) -> String {
        match decode::<Body>(body.as_bytes()) {
            Err(Refusal::Field(message)) => message,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_word_field_names_itself_and_its_words_whatever_the_wrong_value() {
        for value in ["1", "true", "null", "[]", "{}", "\"green\"", "1.5", "-3"] {
            let message = refused(&format!(r#"{{"inner": [{{"colour": {value}}}]}}"#));
            assert!(
                message.starts_with(r#"inner[0].colour: expected one of "red", "dark_blue", got "#),
                "{value}: {message}"
            );
        }
        // An optional word: null is absent.
        assert!(decode::<Body>(br#"{"colour": null}"#).is_ok());
        let message = refused(r#"{"colour": 7}"#);
        assert_eq!(message, r#"colour: expected one of "red", "dark_blue", got 7."#);
        let long = "x".repeat(500);
        let message = refused(&format!(r#"{{"colour": "{long}"}}"#));
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn numbers_name_their_field_and_range() {
        assert_eq!(refused(r#"{"count": 11}"#), "count: 11 is out of range; use 1 to 10.");
        assert_eq!(refused(r#"{"count": -1}"#), "count: -1 is out of range; use 1 to 10.");
        assert_eq!(
            refused(r#"{"count": "many"}"#),
            r#"count: expected a whole number from 1 to 10, got the string "many"."#
        );
        assert!(refused(r#"{"count": 2.5}"#).starts_with("count: expected a whole number"));
        assert_eq!(
            refused(r#"{"share": 0}"#),
            "share: 0 is out of range; use a number above 0 and at most 1."
        );
        assert!(decode::<Body>(br#"{"count": 10, "share": 1}"#).is_ok());
    }

    #[test]
    fn syntax_errors_are_not_field_errors() {
        for body in ["{", "{} {}", "not json", r#"{"colour": }"#] {
            assert!(matches!(decode::<Body>(body.as_bytes()), Err(Refusal::Syntax(_))), "{body}");
        }
    }

    #[test]
    fn messages_start_with_the_path() {
        assert_eq!(field_message(".", "missing field `kind`"), "kind: this field is required.");
        assert_eq!(
            field_message("faults[0].fault", "missing field `status`"),
            "faults[0].fault.status: this field is required."
        );
        assert_eq!(
            field_message("faults[0].fault", "status: not allowed with kind \"delay\""),
            "faults[0].fault.status: not allowed with kind \"delay\"."
        );
        assert_eq!(
            field_message(
                "latency_ms",
                "invalid type: string \"x\", expected u64 at line 1 column 9"
            ),
            "latency_ms: invalid type: string \"x\", expected u64."
        );
    }
}
