//! The API's names on the wire that the client and the fake share, in one place.

/// The header that carries the API key (and, on unsigned webhook deliveries, the
/// webhook's shared secret).
pub const API_KEY_HEADER: &str = "x-truemed-api-key";

/// The error code Truemed returns when an update tries to overwrite a `user_id`.
pub const USER_ID_ALREADY_SET: &str = "user_id_already_set";
