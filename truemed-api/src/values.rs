//! Lenient value types the spec's `date-time` strings and numbers decode into, so a
//! readable-but-odd value (no offset, a date alone, a number in a string) does not fail a
//! whole response. The xtask maps the spec's formats to them (typify conversions), and uses
//! [`Pagination`], whose numbers are read the same way, in place of the spec's schema.

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
        Number::parse(text).map(Self::from).ok_or_else(not_an_amount)
    }
}

impl From<Number> for Amount {
    fn from(number: Number) -> Self {
        Self(number.as_f64())
    }
}

/// The message names what was expected, never the value.
fn not_an_amount() -> String {
    "not an amount: expected a number or a string holding one".to_owned()
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(LenientNumber)? {
            Some(number) => Ok(number.into()),
            None => Err(serde::de::Error::custom(not_an_amount())),
        }
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

/// A number as a server may send one, the lenient values' one reading of numbers: a JSON
/// number, or a string holding one (surrounding whitespace allowed). Each type decides what
/// it accepts: [`Amount`] any finite number, [`Pagination`] whole numbers from 0.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Number {
    /// A whole number, as written (JSON integers, strings of digits with an optional sign).
    Integer(i128),
    /// Any other number; always finite.
    Float(f64),
}

impl Number {
    /// Reads a string holding a number.
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(value) = text.parse::<i128>() {
            return Some(Self::Integer(value));
        }
        // Rust reads `inf` and `NaN` too, and overflows to infinity: none is a number here.
        text.parse::<f64>().ok().filter(|value| value.is_finite()).map(Self::Float)
    }

    /// The number as a float, rounded to the nearest one.
    fn as_f64(self) -> f64 {
        match self {
            Self::Integer(value) => value as f64,
            Self::Float(value) => value,
        }
    }

    /// The number as a count or a page number: a whole number from 0 to `i64::MAX`
    /// (`3.0` is 3; `3.5`, `-1` and `2^63` are none).
    fn as_whole(self) -> Option<i64> {
        /// 2^63, the first float past `i64::MAX`.
        const PAST_I64: f64 = 9_223_372_036_854_775_808.0;
        match self {
            Self::Integer(value) => i64::try_from(value).ok().filter(|n| *n >= 0),
            Self::Float(value) if value.fract() == 0.0 && (0.0..PAST_I64).contains(&value) => {
                Some(value as i64)
            }
            Self::Float(_) => None,
        }
    }
}

/// Reads any value as a [`Number`], or `None` when it holds none: a string that is not a
/// number, a boolean, null, an object or an array (read to its end, so the rest of the
/// document still decodes). Never fails on a well-formed document.
struct LenientNumber;

impl<'de> serde::de::Visitor<'de> for LenientNumber {
    type Value = Option<Number>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string holding one")
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(Number::Integer(value.into())))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(Number::Integer(value.into())))
    }

    fn visit_i128<E: serde::de::Error>(self, value: i128) -> Result<Self::Value, E> {
        Ok(Some(Number::Integer(value)))
    }

    fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<Self::Value, E> {
        Ok(i128::try_from(value).map(Number::Integer).unwrap_or(Number::Float(value as f64)).into())
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(value.is_finite().then_some(Number::Float(value)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Number::parse(text))
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        inner.deserialize_any(self)
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(
        self,
        inner: D,
    ) -> Result<Self::Value, D::Error> {
        inner.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut items: A,
    ) -> Result<Self::Value, A::Error> {
        while items.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut entries: A,
    ) -> Result<Self::Value, A::Error> {
        while entries.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Reads a [`Pagination`] field: a whole number from 0, in any form [`Number`] reads, or
/// `None` for anything else.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Ok(deserializer.deserialize_any(LenientNumber)?.and_then(Number::as_whole))
}

/// Where a page sits in the whole list, read leniently.
///
/// Truemed's list page names these fields only in prose ("current page, page size, total
/// count, and last page") and documents no types for them. So each is read on its own from
/// any form a number comes in (`3`, `3.0`, `"3"`, `" 3 "`, `"3e0"`), and a value that holds
/// no whole number from 0 to `i64::MAX` (`-1`, `3.5`, `18446744073709551615`, `"abc"`,
/// `true`, an object, an array) counts as absent, as a missing or null one does: the page
/// still decodes, and a client pages on by what it can read (with no `last_page`, as it
/// would without a `pagination`). Unknown fields are ignored. Encodes the numbers it holds
/// as JSON integers, leaving out the absent ones.
///
/// Progenitor uses this type in place of generating one (the xtask's `with_replacement`);
/// it is re-exported as `types::Pagination`.
///
/// ```
/// use truemed_api::types::Pagination;
///
/// let page: Pagination =
///     serde_json::from_str(r#"{"count": "250", "last_page": 3.0, "page_size": -1}"#).unwrap();
/// assert_eq!((page.count, page.last_page, page.page_size), (Some(250), Some(3), None));
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schemars",
    schemars(
        description = "Where a page sits in the whole list. Each number is read leniently: a whole number in another form (`3.0`, `\"250\"`) is read, and a value that holds no whole number from 0 counts as absent."
    )
)]
#[non_exhaustive]
pub struct Pagination {
    /// How many sessions match the filters, on all pages.
    #[serde(default, deserialize_with = "whole_number", skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// The page this is, counting from 1.
    #[serde(default, deserialize_with = "whole_number", skip_serializing_if = "Option::is_none")]
    pub current_page: Option<i64>,
    /// The number of the last page.
    #[serde(default, deserialize_with = "whole_number", skip_serializing_if = "Option::is_none")]
    pub last_page: Option<i64>,
    /// How many sessions a full page holds.
    #[serde(default, deserialize_with = "whole_number", skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
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
        assert_eq!(decode("9999-12-31").unwrap().to_string(), "9999-12-31T00:00:00Z");
        assert_eq!(decode("0000-01-01").unwrap().to_string(), "0000-01-01T00:00:00Z");
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

    /// Each pagination field read from `value`, alone in the object.
    fn pagination_fields(value: &serde_json::Value) -> [Option<i64>; 4] {
        let read = |name: &str| {
            let page: crate::types::Pagination =
                serde_json::from_value(serde_json::json!({ name: value }))
                    .unwrap_or_else(|error| panic!("{name}: {value}: {error}"));
            page
        };
        [
            read("count").count,
            read("current_page").current_page,
            read("last_page").last_page,
            read("page_size").page_size,
        ]
    }

    #[test]
    fn pagination_numbers_read_as_whole_numbers_from_0_in_any_form() {
        let table = [
            ("3", Some(3)),
            ("0", Some(0)),
            ("3.0", Some(3)),
            ("-0.0", Some(0)),
            ("1e2", Some(100)),
            (r#""250""#, Some(250)),
            (r#"" 7 ""#, Some(7)),
            (r#""3.0""#, Some(3)),
            (r#""1e2""#, Some(100)),
            ("9223372036854775807", Some(i64::MAX)),
            (r#""9223372036854775807""#, Some(i64::MAX)),
            ("null", None),
            // Unreadable: counted as absent, never an error.
            ("-1", None),
            (r#""-1""#, None),
            ("-0.5", None),
            ("3.5", None),
            (r#""3.5""#, None),
            ("9223372036854775808", None),
            ("18446744073709551615", None),
            (r#""18446744073709551615""#, None),
            ("100000000000000000000000000000", None),
            ("1e300", None),
            (r#""1e999""#, None),
            (r#""NaN""#, None),
            (r#""inf""#, None),
            (r#""abc""#, None),
            (r#""""#, None),
            ("true", None),
            ("false", None),
            ("{}", None),
            (r#"{"value": 3}"#, None),
            ("[]", None),
            ("[3]", None),
            (r#"[[{"a": [1, {"b": null}]}]]"#, None),
        ];
        for (json, expected) in table {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(pagination_fields(&value), [expected; 4], "{json}");
        }
    }

    #[test]
    fn pagination_reads_each_field_on_its_own_and_ignores_unknown_ones() {
        let page: crate::types::Pagination = serde_json::from_str(
            r#"{"count": "250", "current_page": {"n": 1}, "last_page": 3.0,
                "page_size": -100, "next": "/page/2"}"#,
        )
        .unwrap();
        assert_eq!(
            [page.count, page.current_page, page.last_page, page.page_size],
            [Some(250), None, Some(3), None]
        );
        let empty: crate::types::Pagination = serde_json::from_str("{}").unwrap();
        assert_eq!([empty.count, empty.current_page, empty.last_page, empty.page_size], [None; 4]);
    }

    #[test]
    fn pagination_encodes_the_numbers_it_read_and_leaves_out_the_absent() {
        let page: crate::types::Pagination =
            serde_json::from_str(r#"{"count": "11", "current_page": 2.0, "last_page": "x"}"#)
                .unwrap();
        assert_eq!(
            serde_json::to_value(page).unwrap(),
            serde_json::json!({"count": 11, "current_page": 2})
        );
    }

    #[test]
    fn an_amount_reads_a_number_or_a_string_holding_one() {
        for (json, expected) in [
            ("12.5", 12.5),
            ("3", 3.0),
            ("-2", -2.0),
            (r#""12.50""#, 12.5),
            (r#"" 7 ""#, 7.0),
            (r#""1e2""#, 100.0),
            ("18446744073709551615", 18446744073709551615.0),
            (r#""18446744073709551615""#, 18446744073709551615.0),
        ] {
            let amount: Amount = serde_json::from_str(json).unwrap();
            assert_eq!(amount, expected, "{json}");
        }
        for json in [r#""twelve""#, r#""""#, r#""NaN""#, r#""1e999""#, "true", "{}", "[1]"] {
            let error = serde_json::from_str::<Amount>(json).unwrap_err().to_string();
            assert!(error.contains("expected a number or a string holding one"), "{json}: {error}");
        }
    }
}
