//! The names the client shares with the outside, in one place: on the wire (with the
//! fake, too) and in the environment.

/// The header that carries the API key (and, on unsigned webhook deliveries, the
/// webhook's shared secret).
pub const API_KEY_HEADER: &str = "x-truemed-api-key";

/// The error code Truemed returns when an update tries to overwrite a `user_id`.
pub const USER_ID_ALREADY_SET: &str = "user_id_already_set";

/// The environment variable [`Client::from_env`](crate::Client::from_env) reads the API
/// key from.
pub const API_KEY_ENV: &str = "TRUEMED_API_KEY";

/// The environment variable [`Client::from_env`](crate::Client::from_env) reads an
/// optional base URL from.
pub const BASE_URL_ENV: &str = "TRUEMED_BASE_URL";
