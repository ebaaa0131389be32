//! The listing's `status` filter, which the generated client uses in place of typify's
//! pattern-checked string (checked here by hand, so the crate builds no regex engine).

use std::fmt;
use std::str::FromStr;

/// The `status` filter of a listing: one or more statuses, each a lowercase word (letters
/// and underscores), joined by commas, as the spec's pattern `^[a-z_]+(,[a-z_]+)*$` says.
///
/// ```
/// use truemed_api::StatusList;
///
/// let statuses: StatusList = "approved,rejected".parse()?;
/// assert_eq!(statuses.as_str(), "approved,rejected");
/// assert!("approved,".parse::<StatusList>().is_err());
/// assert!(StatusList::try_from("Approved").is_err());
/// # Ok::<(), truemed_api::InvalidStatusList>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct StatusList(String);

impl StatusList {
    /// The statuses as sent: joined by commas.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches `^[a-z_]+(,[a-z_]+)*$`.
    fn is_valid(text: &str) -> bool {
        text.split(',').all(|word| {
            !word.is_empty() && word.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'_')
        })
    }
}

/// Why a string is not a [`StatusList`]: it holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidStatusList(String);

impl fmt::Display for InvalidStatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a status filter: lowercase words (letters and underscores) joined by commas",
            self.0
        )
    }
}

impl std::error::Error for InvalidStatusList {}

impl FromStr for StatusList {
    type Err = InvalidStatusList;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::try_from(text.to_owned())
    }
}

impl TryFrom<String> for StatusList {
    type Error = InvalidStatusList;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        match Self::is_valid(&text) {
            true => Ok(Self(text)),
            false => Err(InvalidStatusList(text)),
        }
    }
}

impl TryFrom<&str> for StatusList {
    type Error = InvalidStatusList;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<StatusList> for String {
    fn from(statuses: StatusList) -> Self {
        statuses.0
    }
}

impl fmt::Display for StatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for StatusList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::try_from(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl schemars::JsonSchema for StatusList {
    fn schema_name() -> String {
        "StatusList".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            string: Some(Box::new(schemars::schema::StringValidation {
                pattern: Some(PATTERN.to_owned()),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

/// The spec's pattern, which [`StatusList`] checks.
#[cfg(feature = "schemars")]
const PATTERN: &str = "^[a-z_]+(,[a-z_]+)*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_what_the_pattern_matches() {
        for valid in ["approved", "approved,rejected", "a", "_", "in_review,a_b,c"] {
            assert_eq!(valid.parse::<StatusList>().unwrap().as_str(), valid);
        }
        for invalid in [
            "",
            ",",
            "approved,",
            ",approved",
            "approved,,rejected",
            "Approved",
            "approved ",
            "appr oved",
            "approved;rejected",
            "café",
            "approved-1",
            "1",
        ] {
            let error = invalid.parse::<StatusList>().unwrap_err();
            assert_eq!(error, InvalidStatusList(invalid.to_owned()));
            assert!(error.to_string().starts_with(&format!("{invalid:?} is not")));
        }
    }

    #[test]
    fn serializes_as_its_string_and_deserializes_only_valid_ones() {
        let statuses = StatusList::try_from("approved,rejected").unwrap();
        assert_eq!(serde_json::to_string(&statuses).unwrap(), r#""approved,rejected""#);
        let back: StatusList = serde_json::from_str(r#""approved,rejected""#).unwrap();
        assert_eq!(back, statuses);
        let error = serde_json::from_str::<StatusList>(r#""APPROVED""#).unwrap_err();
        assert!(error.to_string().contains("is not a status filter"), "{error}");
        assert_eq!(String::from(statuses), "approved,rejected");
    }
}
