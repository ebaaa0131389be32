//! The API's paths, as the fake serves them (the client builds its own from the spec).

/// Paths of one session start with this (then the percent-encoded id).
pub(crate) const SESSION_PREFIX: &str = "/api/v1/qualification_session/";

/// The listing's path.
pub(crate) const LIST_PATH: &str = "/api/v1/qualification_sessions";
