//! Webhooks: `PUT`/`GET`/`DELETE /_fake/webhook_endpoint`, `GET /_fake/webhooks`,
//! `GET /_fake/webhooks/{id}`, `POST /_fake/webhooks/flush`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Deserializer, Serialize};

use super::inspect::Listing;
use super::{allow, no_content, not_found, ok, path_id, Answer, Body, Fake, OptionalBody};
use crate::decode::Whole;
use crate::delivery::{WebhookDelivery, WebhookRetries, WebhookTarget};
use crate::limits::{
    millis, DEFAULT_FLUSH_TIMEOUT, MAX_FLUSH_TIMEOUT, MAX_WEBHOOK_ATTEMPTS, MAX_WEBHOOK_BACKOFF,
    MAX_WEBHOOK_TIMEOUT, MIN_WEBHOOK_TIMEOUT,
};
use crate::shared::Shared;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_fake/webhook_endpoint",
            allow(
                get(get_endpoint).put(set_endpoint).delete(clear_endpoint),
                "GET, HEAD, PUT, DELETE",
            ),
        )
        .route("/_fake/webhooks", allow(get(deliveries), "GET, HEAD"))
        .route("/_fake/webhooks/flush", allow(post(flush), "POST"))
        .route("/_fake/webhooks/{webhook_delivery_id}", allow(get(delivery), "GET, HEAD"))
}

/// The most attempts.
const MAX_ATTEMPTS: u64 = MAX_WEBHOOK_ATTEMPTS as u64;
/// The longest backoff, in milliseconds.
const MAX_BACKOFF_MS: u64 = millis(MAX_WEBHOOK_BACKOFF);
/// The shortest and longest attempt timeouts, in milliseconds.
const MIN_TIMEOUT_MS: u64 = millis(MIN_WEBHOOK_TIMEOUT);
const MAX_TIMEOUT_MS: u64 = millis(MAX_WEBHOOK_TIMEOUT);
/// The longest flush, in milliseconds.
const MAX_FLUSH_MS: u64 = millis(MAX_FLUSH_TIMEOUT);

/// A receiver's URL: `http` or `https`, at most 2048 characters, matching the spec's
/// pattern `^https?://[^\x00-\x20/?#@\x7f]+([/?#][^\x00-\x20\x7f]*)?$` (an authority without
/// user info, no space or control character).
#[derive(Debug)]
struct ReceiverUrl(String);

impl<'de> Deserialize<'de> for ReceiverUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        let ok = url.chars().count() <= 2048
            && url_shape(&url)
            && url::Url::parse(&url).is_ok_and(|parsed| {
                matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some()
            });
        if !ok {
            let shown: String = url.chars().take(64).collect();
            return Err(serde::de::Error::custom(format!(
                "{shown:?} is not an http or https URL (at most 2048 characters), e.g. http://127.0.0.1:3000/hooks/truemed"
            )));
        }
        Ok(Self(url))
    }
}

/// The spec's pattern for a webhook URL.
fn url_shape(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return false;
    };
    let plain = |c: char| !c.is_ascii_control() && c != ' ';
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    !authority.is_empty()
        && authority.chars().all(|c| plain(c) && c != '@')
        && tail.chars().all(plain)
}

/// A webhook secret: 1 to 1024 visible ASCII characters (it goes in a header as it is).
#[derive(Debug)]
struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let secret = String::deserialize(deserializer)?;
        if secret.is_empty() || secret.len() > 1024 || !secret.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(serde::de::Error::custom(
                "use 1 to 1024 visible ASCII characters (no spaces)",
            ));
        }
        Ok(Self(secret))
    }
}

/// Where and how webhooks are delivered, as the control API takes it
/// (`WebhookEndpointSettings`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    url: ReceiverUrl,
    secret: Secret,
    signed: Option<bool>,
    attempts: Option<Whole<1, MAX_ATTEMPTS>>,
    backoff_ms: Option<Whole<0, MAX_BACKOFF_MS>>,
    timeout_ms: Option<Whole<MIN_TIMEOUT_MS, MAX_TIMEOUT_MS>>,
}

impl EndpointBody {
    /// Sets the receiver and the retries in one locked operation; returns them as this
    /// request left them.
    fn apply(self, shared: &Shared) -> (Option<WebhookTarget>, WebhookRetries) {
        let (ReceiverUrl(url), Secret(secret)) = (self.url, self.secret);
        let new_target = if self.signed.unwrap_or(true) {
            WebhookTarget::signed(url, secret)
        } else {
            WebhookTarget::unsigned(url, secret)
        };
        shared.webhooks.configure(|target, retries| {
            // Omitted settings keep their values, read under the same lock.
            if let Some(attempts) = self.attempts {
                *retries = retries.with_max_attempts(attempts.as_u32());
            }
            if let Some(Whole(ms)) = self.backoff_ms {
                *retries = retries.with_initial_backoff(Duration::from_millis(ms));
            }
            if let Some(Whole(ms)) = self.timeout_ms {
                *retries = retries.with_attempt_timeout(Duration::from_millis(ms));
            }
            *target = Some(new_target);
        })
    }
}

/// The webhook endpoint as configured now (`WebhookEndpoint`).
#[derive(Debug, Serialize)]
struct Endpoint<'a> {
    url: Option<&'a str>,
    signed: Option<bool>,
    attempts: u32,
    backoff_ms: u64,
    timeout_ms: u64,
}

impl<'a> Endpoint<'a> {
    fn new(target: Option<&'a WebhookTarget>, retries: WebhookRetries) -> Self {
        Self {
            url: target.map(WebhookTarget::url),
            signed: target.map(WebhookTarget::is_signed),
            attempts: retries.max_attempts(),
            backoff_ms: millis(retries.initial_backoff()),
            timeout_ms: millis(retries.attempt_timeout()),
        }
    }
}

async fn get_endpoint(Extract(shared): Fake) -> Answer {
    let (target, retries) = shared.webhooks.config();
    ok(Endpoint::new(target.as_ref(), retries))
}

async fn set_endpoint(Extract(shared): Fake, Body(body): Body<EndpointBody>) -> Answer {
    let (target, retries) = body.apply(&shared);
    ok(Endpoint::new(target.as_ref(), retries))
}

async fn clear_endpoint(Extract(shared): Fake) -> Answer {
    shared.webhooks.set_target(None);
    no_content()
}

/// Deliveries (`DeliveryList`).
#[derive(Debug, Serialize)]
struct DeliveryList {
    deliveries: Vec<WebhookDelivery>,
    total: usize,
}

async fn deliveries(Extract(shared): Fake, RawQuery(query): RawQuery) -> Answer {
    let listing = Listing::parse(query.as_deref())?;
    let (deliveries, total) = shared
        .webhooks
        .with_deliveries(|all| listing.select(all, |delivery| &delivery.qualification_session_id));
    ok(DeliveryList { deliveries, total })
}

async fn delivery(Extract(shared): Fake, id: Result<Path<String>, PathRejection>) -> Answer {
    let id = path_id(id);
    match shared.webhooks.delivery(&id) {
        Some(delivery) => ok(delivery),
        None => Err(not_found(format!("No webhook delivery with id {id:?}."))),
    }
}

/// `POST /_fake/webhooks/flush`'s body (`FlushRequest`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlushBody {
    timeout_ms: Option<Whole<0, MAX_FLUSH_MS>>,
}

/// What a flush saw (`FlushResult`).
#[derive(Debug, Serialize)]
struct FlushResult {
    complete: bool,
    deliveries: Vec<WebhookDelivery>,
}

async fn flush(Extract(shared): Fake, OptionalBody(body): OptionalBody<FlushBody>) -> Answer {
    let wait = body.timeout_ms.map_or(DEFAULT_FLUSH_TIMEOUT, |Whole(ms)| Duration::from_millis(ms));
    let complete = tokio::time::timeout(wait, shared.webhooks.flush()).await.is_ok();
    ok(FlushResult { complete, deliveries: shared.webhooks.deliveries() })
}
