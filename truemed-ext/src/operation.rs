//! [`Operation`]: the API's operations, named once.

use std::fmt;

/// An operation of the Qualification Sessions API. Its [`id`](Self::id) is the spec's
/// `operationId`, as tracing spans and the fake's stats name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /api/v1/qualification_session/{id}`.
    Get,
    /// `GET /api/v1/qualification_sessions`.
    List,
    /// `POST /api/v1/qualification_session/{id}/update`.
    Update,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 3] = [Self::Get, Self::List, Self::Update];

    /// The spec's `operationId`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Get => "get_qualification_session",
            Self::List => "list_qualification_sessions",
            Self::Update => "update_qualification_session",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
