//! Lenient value types the spec's `date-time` strings and numbers decode into, so a
//! readable-but-odd value (no offset, a date alone, a number in a string) does not fail a
//! whole response. The xtask maps the spec's formats to them (typify conversions).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, TimeZone as _, Utc};

/// A point in time, as the spec's `format: date-time` fields carry it, read leniently.
///
/// Decodes every readable form a server sends: RFC 3339 with `Z` or an offset, with or
/// without fractional seconds, a date and time without an offset (read as UTC, with `T`
/// or a space between them), and a date alone (midnight UTC). Always encodes as RFC 3339
/// in UTC. Derefs to [`chrono::DateTime<Utc>`].
///
/// Only the years 0000 to 9999 in UTC decode, the years RFC 3339 can write: whatever
/// decodes encodes to text that decodes to the same time. (A `Timestamp` built by hand
/// from a time outside them encodes to text decoding refuses.)
///
/// ```
/// use truemed_api::Timestamp;
///
/// let at: Timestamp = serde_json::from_str(r#""2025-06-13T16:03:07""#).unwrap();
/// assert_eq!(at.to_string(), "2025-06-13T16:03:07Z");
/// let day: Timestamp = serde_json::from_str(r#""2026-01-31""#).unwrap();
/// assert_eq!(serde_json::to_string(&day).unwrap(), r#""2026-01-31T00:00:00Z""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Reads a timestamp in any of the accepted forms; `None` if it is in none of them,
    /// or falls outside the years 0000 to 9999 in UTC.
    pub fn parse(text: &str) -> Option<Self> {
        Self::read(text).ok()
    }

    /// Reads a timestamp, saying why not.
    ///
    /// Years are refused outside 0000 to 9999 in UTC, whatever form accepted them (chrono's
    /// `%Y` takes a sign and any number of digits, so `+10000-01-01` and `-0001-01-01` read
    /// as dates, and an offset can move `0000-01-01T00:30:00+01:00` into year -1). RFC 3339
    /// writes four-digit years only, so chrono encodes such a time as `+10000-...` or
    /// `-0001-...`, which no reader of RFC 3339 (this one included) accepts: a value that
    /// decoded would encode to one that does not. Refusing here keeps decoding and encoding
    /// inverse, and costs nothing real (no session is dated outside those years). The other
    /// way, reading every form encoding writes, would make this type accept and send text
    /// that is not RFC 3339, which the API and other readers would refuse.
    fn read(text: &str) -> Result<Self, Unreadable> {
        let at = Self::read_any_year(text.trim()).ok_or(Unreadable::Form)?;
        match at.year() {
            0..=9999 => Ok(Self(at)),
            _ => Err(Unreadable::Year),
        }
    }

    /// Reads every accepted form, in UTC, whatever the year.
    fn read_any_year(text: &str) -> Option<DateTime<Utc>> {
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Some(at.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
                return Some(Utc.from_utc_datetime(&at));
            }
        }
        // An offset after a space separator (`2025-06-13 16:03:07+02:00`).
        if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
            return Some(at.with_timezone(&Utc));
        }
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?))
    }

    /// The time as a `chrono` value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl Deref for Timestamp {
    type Target = DateTime<Utc>;

    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(at: Timestamp) -> Self {
        at.0
    }
}

impl PartialEq<DateTime<Utc>> for Timestamp {
    fn eq(&self, other: &DateTime<Utc>) -> bool {
        self.0 == *other
    }
}

impl PartialOrd<DateTime<Utc>> for Timestamp {
    fn partial_cmp(&self, other: &DateTime<Utc>) -> Option<Ordering> {
        self.0.partial_cmp(other)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl FromStr for Timestamp {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::read(text).map_err(|why| why.to_string())
    }
}

/// Why a text is not a [`Timestamp`]. The messages name the expected forms, never the value
/// (it may be personal data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unreadable {
    /// In none of the accepted forms.
    Form,
    /// In an accepted form, but outside the years 0000 to 9999 in UTC.
    Year,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Form => "not a timestamp: expected RFC 3339, a date and time without offset, or a date, in the years 0000 to 9999",
            Self::Year => "timestamp out of range: only the years 0000 to 9999 (in UTC) are accepted, as RFC 3339 writes no others",
        })
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The message names the expected forms, never the value (it may be personal data).
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> String {
        "Timestamp".to_owned()
    }

    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        <DateTime<Utc> as schemars::JsonSchema>::json_schema(generator)
    }
}

/// An amount, as the spec's `type: number` fields carry it, read leniently.
///
/// Decodes a JSON number or a string holding a decimal number (`"12.50"`, common from
/// Python backends); always encodes as a JSON number.
///
/// ```
/// use truemed_api::Amount;
///
/// let amount: Amount = serde_json::from_str(r#""12.50""#).unwrap();
/// assert_eq!(amount, 12.5);
/// assert_eq!(serde_json::to_string(&amount).unwrap(), "12.5");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Amount(pub f64);

impl Amount {
    /// The amount as a number.
    pub fn as_f64(self) -> f64 {
        self.0
    }
}

impl From<f64> for Amount {
    fn from(value: f64) -> Self {
        Self(value)
    }
}

impl From<Amount> for f64 {
    fn from(amount: Amount) -> Self {
        amount.0
    }
}

impl PartialEq<f64> for Amount {
    fn eq(&self, other: &f64) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Amount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Self(value)),
            _ => Err("not an amount: expected a number or a string holding one".to_owned()),
        }
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Amount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string holding one")
            }

            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Amount, E> {
                Ok(Amount(value))
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Amount, E> {
                Ok(Amount(value as f64))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Amount, E> {
                Ok(Amount(value as f64))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Amount, E> {
                // The message names what was expected, never the value.
                text.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl schemars::JsonSchema for Amount {
    fn schema_name() -> String {
        "Amount".to_owned()
    }

    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        <f64 as schemars::JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `text` as a JSON string, the way a response field is read.
    fn decode(text: &str) -> Result<Timestamp, String> {
        serde_json::from_value(serde_json::Value::String(text.to_owned()))
            .map_err(|error| error.to_string())
    }

    /// Whatever decodes encodes to text that decodes to the same time.
    fn assert_round_trips(text: &str) {
        let first = decode(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
        let encoded = serde_json::to_value(first).unwrap();
        let encoded = encoded.as_str().unwrap();
        let again = decode(encoded)
            .unwrap_or_else(|error| panic!("{text:?} encoded as {encoded:?}, refused: {error}"));
        assert_eq!(again, first, "{text:?} encoded as {encoded:?}");
    }

    #[test]
    fn years_0000_and_9999_decode_and_round_trip() {
        for text in [
            "0000-01-01T00:00:00Z",
            "0000-01-01",
            "0000-01-01 00:00:00",
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31",
            "9999-12-31T23:59:59",
            "9999-12-31T23:00:00-00:59",
            "0000-01-01T00:59:00+00:59",
        ] {
            assert_round_trips(text);
        }
        assert_eq!(
            decode("9999-12-31").unwrap().to_string(),
            "9999-12-31T00:00:00Z"
        );
        assert_eq!(
            decode("0000-01-01").unwrap().to_string(),
            "0000-01-01T00:00:00Z"
        );
    }

    #[test]
    fn years_outside_0000_to_9999_are_refused_naming_the_range() {
        for text in [
            "+10000-01-01",
            "10000-01-01",
            "+10000-01-01T00:00:00",
            "+10000-01-01 00:00:00",
            "+10000-01-01T00:00:00Z",
            "-0001-01-01",
            "-0001-12-31T23:59:59",
            "-0001-12-31 23:59:59+00:00",
            // In range as written, outside it in UTC, which is what encoding writes.
            "0000-01-01T00:30:00+01:00",
            "0000-01-01 00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
        ] {
            let error = decode(text).expect_err(text);
            assert!(
                error.contains("0000 to 9999"),
                "{text:?} refused without naming the range: {error}"
            );
            assert!(!error.contains(text), "{text:?} is echoed: {error}");
            assert_eq!(Timestamp::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_value_that_is_no_timestamp_is_refused_naming_the_forms() {
        for text in ["", "yesterday", "2025-13-01", "2025-06-13T25:00:00Z"] {
            let error = decode(text).expect_err(text);
            assert!(error.contains("expected RFC 3339"), "{text:?}: {error}");
        }
    }

    #[test]
    fn every_form_decoding_accepts_round_trips() {
        for text in [
            "2025-06-13T16:03:07Z",
            "2025-06-13t16:03:07z",
            "2025-06-13 16:03:07Z",
            "2025-06-13T16:03:07.5Z",
            "2025-06-13T16:03:07.123456789Z",
            "2025-06-13T16:03:07+02:00",
            "2025-06-13T16:03:07.25-07:30",
            "2025-06-13T16:03:07",
            "2025-06-13T16:03:07.001",
            "2025-06-13 16:03:07",
            "2025-06-13 16:03:07.5",
            "2025-06-13 16:03:07+02:00",
            "2025-06-13 16:03:07.5-02:00",
            "2025-06-13",
            "  2025-06-13T16:03:07Z\n",
            "2016-12-31T23:59:60Z",
            "+2025-06-13",
            "25-06-13",
        ] {
            assert_round_trips(text);
        }
    }

    /// The property the `decode_delivery` fuzz target checks, over every year sign and
    /// width in every form: decoding never accepts what encoding cannot write back.
    #[test]
    fn no_year_decodes_that_does_not_round_trip() {
        let years = [
            "0000", "0001", "999", "9999", "+9999", "10000", "+10000", "-0001", "-0", "+0",
            "99999", "-10000", "262143", "-262143",
        ];
        let mut decoded = 0;
        for year in years {
            for rest in [
                "-01-01",
                "-12-31",
                "-01-01T00:00:00Z",
                "-12-31T23:59:59Z",
                "-01-01T00:00:00",
                "-12-31 23:59:59",
                "-01-01T00:00:00+01:00",
                "-12-31T23:00:00-02:00",
                "-06-13 16:03:07+02:00",
            ] {
                let text = format!("{year}{rest}");
                if decode(&text).is_ok() {
                    decoded += 1;
                    assert_round_trips(&text);
                }
            }
        }
        assert!(decoded > 20, "only {decoded} decoded");
    }
}
