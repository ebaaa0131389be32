//! [`Client`], its [`ClientBuilder`], and [`Environment`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use truemed_api::CallContext;

use crate::error::Error;
use crate::idempotency::{IdempotencyKey, KeyGenerator};
use crate::operation::Operation;
use crate::refusal::{BaseUrlProblem, ConfigurationReason};
use crate::retry::{self, RetryBudget, RetryPolicy, Sleeper, TokenBucket};
use crate::telemetry::{Exchange, Telemetry};
use crate::wire::{API_KEY_ENV, API_KEY_HEADER, BASE_URL_ENV};

/// The `User-Agent` every request carries: `truemed-rs/` and this crate's version.
pub(crate) const USER_AGENT: &str = concat!("truemed-rs/", env!("CARGO_PKG_VERSION"));

/// Default time allowed to open a connection.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one attempt, from sending to the end of the body.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Which Truemed deployment to talk to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.truemed.com`.
    #[default]
    Production,
    /// `https://dev-api.truemed.com`, the sandbox. Sandbox keys differ from production keys.
    Development,
}

impl Environment {
    /// The environment's base URL.
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Production => "https://api.truemed.com",
            Self::Development => "https://dev-api.truemed.com",
        }
    }
}

/// A client for Truemed's Qualification Sessions API.
///
/// Cheap to clone: clones share one connection pool and configuration.
///
/// ```no_run
/// use truemed_ext::{Client, Environment};
///
/// # fn demo() -> Result<(), truemed_ext::Error> {
/// let client = Client::builder()
///     .api_key("sk_sandbox_...")
///     .environment(Environment::Development)
///     .build()?;
/// let from_env = Client::from_env()?; // TRUEMED_API_KEY, optional TRUEMED_BASE_URL
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    context: CallContext,
    retry: RetryPolicy,
    budget: TokenBucket,
    keys: KeyGenerator,
    sleeper: Sleeper,
    telemetry: Telemetry,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"[redacted]")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder; [`ClientBuilder::api_key`] is the one required setting.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: the API key from `TRUEMED_API_KEY`, and
    /// the base URL from `TRUEMED_BASE_URL` when set (production otherwise).
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().from_env().build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The client's retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The retry tokens left in this client's [`RetryBudget`] (shared by its clones), or
    /// `None` when the budget is unlimited.
    pub fn retry_budget_available(&self) -> Option<u32> {
        self.inner.budget.available()
    }

    /// The generated client, sharing this client's connection pool, key, timeout and body
    /// limits, for what this crate does not wrap. Calls made through it are not retried.
    pub fn raw(&self) -> truemed_api::Client {
        self.raw_with(self.inner.context.fresh())
    }

    fn raw_with(&self, context: CallContext) -> truemed_api::Client {
        truemed_api::Client::new_with_client(&self.inner.base_url, self.inner.http.clone(), context)
    }

    pub(crate) fn next_idempotency_key(&self) -> IdempotencyKey {
        self.inner.keys.generate()
    }

    /// Runs one operation of the generated client with retries: `send` makes one attempt
    /// with a generated client whose context records the response. `idempotency_key` is
    /// what an update sends, carried by its errors; `on_body_read` is called with each
    /// response's status once its body is read, before it is decoded.
    pub(crate) async fn execute<T, F, Fut>(
        &self,
        operation: Operation,
        policy: Option<&RetryPolicy>,
        idempotency_key: Option<&IdempotencyKey>,
        on_body_read: Option<OnBodyRead>,
        send: F,
    ) -> Result<T, Error>
    where
        T: serde::de::DeserializeOwned,
        F: Fn(truemed_api::Client) -> Fut,
        Fut: std::future::Future<
            Output = Result<
                truemed_api::ResponseValue<T>,
                truemed_api::Error<truemed_api::types::ApiError>,
            >,
        >,
    {
        let call = retry::Call {
            operation,
            policy: policy.unwrap_or(&self.inner.retry),
            budget: &self.inner.budget,
            sleeper: &self.inner.sleeper,
            telemetry: &self.inner.telemetry,
            idempotency_key,
        };
        retry::run(call, |_attempt| {
            let mut context = self.inner.context.fresh();
            if let Some(callback) = &on_body_read {
                let callback = callback.clone();
                context = context.on_body_read(move |status| callback(status));
            }
            let sent = send(self.raw_with(context.clone()));
            async move {
                let result = match sent.await {
                    Ok(value) => Ok(value.into_inner()),
                    Err(error) => Err(Error::from_generated::<T>(error, &context)),
                };
                (result, Exchange::of(&context))
            }
        })
        .await
    }
}

/// Called with a response's status once its body is read, before it is decoded.
pub(crate) type OnBodyRead = std::sync::Arc<dyn Fn(reqwest::StatusCode) + Send + Sync>;

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use truemed_ext::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("sk_test_123")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Duration::from_secs(10))
///     .retry_policy(RetryPolicy::default().with_max_retries(4))
///     .build()?;
/// assert!(!format!("{client:?}").contains("sk_test_123"));
/// # Ok::<(), truemed_ext::Error>(())
/// ```
#[derive(Default)]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    environment: Environment,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    budget: Option<RetryBudget>,
    max_response_body: Option<usize>,
    http: Option<reqwest::Client>,
    keys: Option<KeyGenerator>,
    sleeper: Option<Sleeper>,
    trace_idempotency_keys: bool,
    #[cfg(feature = "opentelemetry")]
    duration_metric: Option<crate::telemetry::DurationMetric>,
    env_error: Option<ConfigurationReason>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("environment", &self.environment)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("budget", &self.budget)
            .field("max_response_body", &self.max_response_body)
            .field("custom_http_client", &self.http.is_some())
            .field("trace_idempotency_keys", &self.trace_idempotency_keys)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The sales channel API key, sent as `x-truemed-api-key`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Production (the default) or the development sandbox.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// A custom base URL (a proxy, the fake server), overriding the environment. `https`,
    /// or `http` for loopback hosts only.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Reads `TRUEMED_API_KEY`, and `TRUEMED_BASE_URL` when set, over earlier settings.
    pub fn from_env(mut self) -> Self {
        match std::env::var(API_KEY_ENV) {
            Ok(key) => self.api_key = Some(key),
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                self.env_error = Some(ConfigurationReason::EnvNotUnicode { variable: API_KEY_ENV });
            }
        }
        if let Ok(url) = std::env::var(BASE_URL_ENV) {
            if !url.trim().is_empty() {
                self.base_url = Some(url);
            }
        }
        self
    }

    /// Time allowed to open a connection (default 5 s). Ignored with
    /// [`http_client`](Self::http_client): configure that client instead.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Time allowed for each attempt, from sending to the end of the body (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The retry policy of every call (each call can override it).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The retry budget shared by every call of the client (default
    /// [`RetryBudget::default`]: 500 tokens, 5 per retry).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The longest success body accepted, in bytes (default 32 MiB,
    /// [`truemed_api::DEFAULT_MAX_SUCCESS_BODY`]); a longer one fails with
    /// [`Error::UndecodableResponse`] without being read further, so a runaway response
    /// cannot exhaust memory. Error bodies are always read to at most
    /// 64 KiB, the rest discarded.
    ///
    /// The limit bounds the bytes read, not the memory a body costs: a body within it is
    /// held whole, then decoded into the model types, which take several times its size (a
    /// 30 MiB page of sessions peaked at 374 MiB of resident memory in our measurement), and
    /// a prefetching listing may hold up to its
    /// [`concurrency`](crate::Paginator::concurrency) in pages (two at concurrency 1).
    /// Truemed's pages are far smaller; where memory is tight, lower this limit or the page
    /// size.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = Some(bytes);
        self
    }

    /// Sends through your `reqwest::Client` (proxy, TLS roots, middleware-free tuning).
    /// The API key, `User-Agent` and [`timeout`](Self::timeout) are still added per request.
    ///
    /// **Build it with `.redirect(reqwest::redirect::Policy::none())`.** A client that
    /// follows redirects sends the request, API key included, wherever a server or proxy
    /// points (reqwest strips only `Authorization` across hosts, not `x-truemed-api-key`).
    /// This crate cannot stop that from happening, but it refuses any response that came
    /// from another URL than the one requested, with an [`Error::Api`] of kind
    /// [`ApiErrorKind::Redirect`](crate::ApiErrorKind::Redirect), instead of decoding it.
    /// The client this builder makes when you give none never follows redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How keys are made for updates that were not given one (default: random UUID v4).
    pub fn idempotency_keys(mut self, keys: KeyGenerator) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How the client waits between attempts (default: `tokio::time::sleep`).
    pub fn sleeper(mut self, sleeper: Sleeper) -> Self {
        self.sleeper = Some(sleeper);
        self
    }

    /// Whether the tracing spans show each update's idempotency key as
    /// `truemed.idempotency_key` (default `false`: they say only whether the call sends one,
    /// as `truemed.idempotency_key.present`). A key is no secret, but one derived from your
    /// own data may say something about it: turn this on only for keys that do not.
    pub fn trace_idempotency_keys(mut self, show: bool) -> Self {
        self.trace_idempotency_keys = show;
        self
    }

    /// Records the `http.client.request.duration` histogram through `provider` instead of
    /// OpenTelemetry's global meter provider (feature `opentelemetry`). The meter is
    /// `truemed-ext` with this crate's version.
    ///
    /// Without this, the client takes the global meter provider as it is when
    /// [`build`](Self::build) runs: install yours
    /// (`opentelemetry::global::set_meter_provider`) before building clients.
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn meter_provider<P>(mut self, provider: &P) -> Self
    where
        P: opentelemetry::metrics::MeterProvider + ?Sized,
    {
        self.duration_metric = Some(crate::telemetry::DurationMetric::from_provider(provider));
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// Fails with [`Error::Configuration`], whose
    /// [`reason`](crate::ConfigurationError::reason) says what is wrong: a missing or
    /// empty API key, a key that cannot be an HTTP header value, or a base URL that is
    /// malformed, not `https` (`http` is accepted for loopback hosts only), or carries
    /// credentials, a query or a fragment (the error shows the URL without them).
    ///
    /// # Panics
    ///
    /// With the `rustls-no-provider` feature and no [`http_client`](Self::http_client),
    /// reqwest panics here unless a rustls crypto provider was installed first
    /// (`rustls::crypto::CryptoProvider::install_default`).
    pub fn build(self) -> Result<Client, Error> {
        if let Some(reason) = self.env_error {
            return Err(reason.into());
        }
        let key = self.api_key.unwrap_or_default();
        if key.trim().is_empty() {
            return Err(ConfigurationReason::MissingApiKey.into());
        }
        let mut key_value = HeaderValue::from_str(&key)
            .map_err(|_| Error::from(ConfigurationReason::ApiKeyNotHeaderValue))?;
        key_value.set_sensitive(true);

        let base_url = match self.base_url {
            Some(url) => validate_base_url(&url)?,
            None => self.environment.base_url().to_owned(),
        };

        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static(API_KEY_HEADER), key_value);
        headers.insert(reqwest::header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut context = CallContext::new().with_headers(headers).with_timeout(timeout);
        if let Some(bytes) = self.max_response_body {
            context = context.with_max_success_body(bytes);
        }

        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .user_agent(USER_AGENT)
                // A redirect would carry the API key to wherever it points.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::from(ConfigurationReason::HttpClient { reason: e.to_string() })
                })?,
        };

        let telemetry = Telemetry::new(
            &base_url,
            self.trace_idempotency_keys,
            #[cfg(feature = "opentelemetry")]
            self.duration_metric.unwrap_or_else(crate::telemetry::DurationMetric::global),
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                context,
                retry: self.retry.unwrap_or_default(),
                budget: TokenBucket::new(self.budget.unwrap_or_default()),
                keys: self.keys.unwrap_or_default(),
                sleeper: self.sleeper.unwrap_or_default(),
                telemetry,
            }),
        })
    }
}

/// Parses and normalises a base URL (no trailing slash). Errors show the URL without
/// credentials, query or fragment.
fn validate_base_url(raw: &str) -> Result<String, Error> {
    let bad = |problem: BaseUrlProblem| {
        Error::from(ConfigurationReason::InvalidBaseUrl { url: redact_url(raw), problem })
    };
    let url = url::Url::parse(raw.trim())
        .map_err(|e| bad(BaseUrlProblem::Unparsable { reason: e.to_string() }))?;
    let host = url.host().ok_or_else(|| bad(BaseUrlProblem::NoHost))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(bad(BaseUrlProblem::PlainHttpNotLoopback)),
        other => return Err(bad(BaseUrlProblem::UnsupportedScheme { scheme: other.to_owned() })),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(BaseUrlProblem::QueryOrFragment));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(BaseUrlProblem::Credentials));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `raw` without what may be secret: userinfo (before an `@` in the authority), query and
/// fragment. Works on text that does not parse as a URL too.
fn redact_url(raw: &str) -> String {
    let raw = raw.trim();
    let raw = &raw[..raw.find(['?', '#']).unwrap_or(raw.len())];
    let (scheme, rest) = match raw.find("://") {
        Some(at) => raw.split_at(at + 3),
        None => ("", raw),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}[redacted]@{}", &rest[at + 1..]),
        None => format!("{scheme}{rest}"),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            validate_base_url("https://api.example.com/").unwrap(),
            "https://api.example.com"
        );
        assert_eq!(
            validate_base_url("https://proxy.example.com/truemed/").unwrap(),
            "https://proxy.example.com/truemed"
        );
        assert_eq!(validate_base_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(validate_base_url("http://127.3.4.5").unwrap(), "http://127.3.4.5");
        assert_eq!(validate_base_url("http://[::1]:9000").unwrap(), "http://[::1]:9000");
        assert_eq!(validate_base_url("http://LOCALHOST:1").unwrap(), "http://localhost:1");
        for (bad, expected) in [
            ("http://api.truemed.com", BaseUrlProblem::PlainHttpNotLoopback),
            ("http://10.0.0.1", BaseUrlProblem::PlainHttpNotLoopback),
            ("ftp://127.0.0.1", BaseUrlProblem::UnsupportedScheme { scheme: "ftp".into() }),
            ("https://x.com/?a=1", BaseUrlProblem::QueryOrFragment),
            ("https://x.com/#f", BaseUrlProblem::QueryOrFragment),
            ("https://user:pw@x.com", BaseUrlProblem::Credentials),
        ] {
            let Err(Error::Configuration(error)) = validate_base_url(bad) else { panic!("{bad}") };
            let ConfigurationReason::InvalidBaseUrl { problem, .. } = error.reason() else {
                panic!("{bad}: {error:?}")
            };
            assert_eq!(problem, &expected, "{bad}");
        }
        for unparsable in ["not a url", "https://", ""] {
            let Err(Error::Configuration(error)) = validate_base_url(unparsable) else {
                panic!("{unparsable}")
            };
            assert!(
                matches!(
                    error.reason(),
                    ConfigurationReason::InvalidBaseUrl {
                        problem: BaseUrlProblem::Unparsable { .. } | BaseUrlProblem::NoHost,
                        ..
                    }
                ),
                "{unparsable}: {error:?}"
            );
        }
    }

    #[test]
    fn configuration_errors_never_show_credentials_or_queries() {
        for raw in [
            "https://user:hunter2@x.com",
            "http://user:hunter2@10.0.0.1/p",
            "htp://user:hunter2@x.com",
            "https://x.com/?token=hunter2",
            "http://a b:hunter2@host",
            "user:hunter2@host",
        ] {
            let error = validate_base_url(raw).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("hunter2"), "{raw}: {shown}");
        }
        assert_eq!(redact_url("https://u:p@h/x?q=1#f"), "https://[redacted]@h/x");
        assert_eq!(redact_url("https://h/x"), "https://h/x");
    }
}
