//! The API key and the client: where each setting comes from.

use std::path::Path;
use std::time::Duration;

use truemed_ext::{Client, Environment, API_KEY_ENV, BASE_URL_ENV};

use crate::cli::{Cli, EnvName};
use crate::fail::Failure;

/// The API key: `--api-key-file` wins over `TRUEMED_API_KEY`. Never a flag's value.
pub fn api_key(cli: &Cli) -> Result<String, Failure> {
    if cli.api_key.is_some() {
        return Err(Failure::usage(format!(
            "--api-key is not accepted: a key in a flag's value shows in the process list and the shell's history; set {API_KEY_ENV} or pass --api-key-file FILE"
        )));
    }
    if let Some(path) = &cli.api_key_file {
        return read_secret_file(path, "API key");
    }
    match std::env::var(API_KEY_ENV) {
        Ok(key) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
        Ok(_) => Err(Failure::usage(format!(
            "{API_KEY_ENV} is empty: set it to the sales channel's API key, or pass --api-key-file FILE"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "{API_KEY_ENV} is not valid Unicode"
        ))),
        Err(std::env::VarError::NotPresent) => Err(Failure::usage(format!(
            "no API key: set {API_KEY_ENV}, or pass --api-key-file FILE"
        ))),
    }
}

/// A secret kept in a file: its first line, trimmed.
pub fn read_secret_file(path: &Path, what: &str) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::file(&format!("cannot read the {what} file"), path, &e))?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(Failure::usage(format!("the {what} file {} is empty", path.display())));
    }
    Ok(secret.to_owned())
}

/// The client: `--base-url`, else `--env`, else `TRUEMED_BASE_URL`, else production.
pub fn client(cli: &Cli, key: &str) -> Result<Client, Failure> {
    let mut builder = Client::builder().api_key(key);
    builder = match (&cli.base_url, cli.env) {
        (Some(url), _) => builder.base_url(url),
        (None, Some(EnvName::Production)) => builder.environment(Environment::Production),
        (None, Some(EnvName::Development)) => builder.environment(Environment::Development),
        (None, None) => match std::env::var(BASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => builder.base_url(url.trim()),
            _ => builder,
        },
    };
    if let Some(seconds) = cli.timeout {
        let timeout = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| Failure::usage("--timeout must be a positive number of seconds"))?;
        builder = builder.timeout(timeout);
    }
    builder.build().map_err(|e| Failure::usage(e.to_string()))
}
