//! The open status enum the generated types use in place of typify's strict one.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// Where a qualification session is in the qualification flow.
///
/// An open enum: Truemed adds states over time, so a value this crate does not know
/// decodes into [`QualificationSessionStatus::Unknown`], keeping the string, instead of
/// failing the whole response.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum QualificationSessionStatus {
    /// Created; the shopper has not completed the survey yet.
    Pending,
    /// The survey is complete and under review.
    Processing,
    /// The shopper holds a valid Letter of Medical Necessity for the items.
    Approved,
    /// The shopper cannot get a Letter of Medical Necessity for the items.
    Rejected,
    /// A status this version of the crate does not know, as Truemed sent it.
    Unknown(String),
}

impl QualificationSessionStatus {
    /// The statuses the spec lists, in the order of the flow.
    pub const KNOWN: [Self; 4] = [Self::Pending, Self::Processing, Self::Approved, Self::Rejected];

    /// The status as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Unknown(other) => other,
        }
    }

    /// Whether the session has reached a final decision (`approved` or `rejected`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Approved | Self::Rejected)
    }
}

impl fmt::Display for QualificationSessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QualificationSessionStatus {
    type Err = Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(value))
    }
}

impl From<&str> for QualificationSessionStatus {
    fn from(value: &str) -> Self {
        match value {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl From<String> for QualificationSessionStatus {
    fn from(value: String) -> Self {
        Self::from(value.as_str())
    }
}

impl serde::Serialize for QualificationSessionStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for QualificationSessionStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = <Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::from(value.as_ref()))
    }
}

#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl schemars::JsonSchema for QualificationSessionStatus {
    fn schema_name() -> String {
        "QualificationSessionStatus".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        // Open: any string is accepted; the known values are listed as examples.
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            metadata: Some(Box::new(schemars::schema::Metadata {
                description: Some(
                    "pending | processing | approved | rejected, or a newer status".to_owned(),
                ),
                examples: Self::KNOWN.iter().map(|s| serde_json::Value::from(s.as_str())).collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}
