//! The bounds and defaults of every setting, each defined once: the control API refuses a
//! value outside them (a `400` naming the field), the `truemed-fake` binary's flags refuse
//! it too (exit 2 naming the flag), and `openapi/fake-control.yaml` states them (a test
//! checks that they agree). The Rust API clamps where it says so.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The longest latency added to every API request, and the longest delay of a
/// [`Fault::delay`](crate::Fault::delay) given over the control API: 10 minutes.
/// `PUT /_fake/latency` `latency_ms`, a fault's `delay_ms`, `truemed-fake serve
/// --latency-ms`.
pub const MAX_LATENCY: Duration = Duration::from_secs(600);

/// The longest `Retry-After` a status fault given over the control API asks for: a day.
/// A fault's `retry_after_ms`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// How many requests one fault given over the control API may hit, at most (at least 1).
/// A fault's `times`.
pub const MAX_FAULT_TIMES: u32 = 1_000_000;

/// How many faults the control API queues at once, at most (`POST /_fake/faults`).
pub const MAX_QUEUED_FAULTS: usize = 10_000;

/// The probabilities chaos takes: 0 (never) to 1 (every request). `POST /_fake/chaos`
/// `probability`, `truemed-fake serve --chaos`.
pub const CHAOS_PROBABILITY: RangeInclusive<f64> = 0.0..=1.0;

/// The largest seed of chaos's random draws: 2^53 - 1, exact in every JSON implementation.
/// `POST /_fake/chaos` `seed`, `truemed-fake serve --chaos-seed`.
pub const MAX_CHAOS_SEED: u64 = (1 << 53) - 1;

/// The largest weight of one fault of a chaos mix (weights are above 0).
pub const MAX_CHAOS_WEIGHT: f64 = 1_000_000.0;

/// How many faults a chaos mix given over the control API may have, at most (at least 1).
pub const MAX_CHAOS_FAULTS: usize = 100;

/// How many times a delivery is attempted, by default, before it counts as failed.
pub const DEFAULT_WEBHOOK_ATTEMPTS: u32 = 5;

/// The most attempts a delivery can be given (at least 1). `PUT /_fake/webhook_endpoint`
/// `attempts`, `truemed-fake serve --webhook-attempts`,
/// [`WebhookRetries::with_max_attempts`](crate::WebhookRetries::with_max_attempts).
pub const MAX_WEBHOOK_ATTEMPTS: u32 = 20;

/// The wait before the second attempt of a delivery, by default; it doubles after each
/// attempt.
pub const DEFAULT_WEBHOOK_BACKOFF: Duration = Duration::from_millis(50);

/// The longest wait between two attempts of a delivery, whatever the backoff, and the
/// longest backoff the control API and the flags take. `PUT /_fake/webhook_endpoint`
/// `backoff_ms`, `truemed-fake serve --webhook-backoff-ms`.
pub const MAX_WEBHOOK_BACKOFF: Duration = Duration::from_secs(60);

/// How long one attempt of a delivery may take (connecting, sending, reading the answer),
/// by default.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest time one attempt of a delivery may take: 1 ms (a zero timeout is taken as
/// this).
pub const MIN_WEBHOOK_TIMEOUT: Duration = Duration::from_millis(1);

/// The longest time one attempt of a delivery may take. `PUT /_fake/webhook_endpoint`
/// `timeout_ms`, `truemed-fake serve --webhook-timeout-ms`, `truemed-fake trigger
/// --timeout-ms`.
pub const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `POST /_fake/webhooks/flush` waits for the deliveries, unless told otherwise.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `POST /_fake/webhooks/flush` waits (its `timeout_ms`).
pub const MAX_FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// How many entries `GET /_fake/ledger` and `GET /_fake/webhooks` answer when the request
/// has no `limit`: the newest ones, oldest first.
pub const DEFAULT_CONTROL_LIMIT: usize = 100;

/// The largest `limit` of `GET /_fake/ledger` and `GET /_fake/webhooks` (at least 1).
pub const MAX_CONTROL_LIMIT: usize = 1000;

/// A duration in whole milliseconds, as the control API and the flags take them
/// (saturating).
pub(crate) const fn millis(duration: Duration) -> u64 {
    let ms = duration.as_millis();
    if ms > u64::MAX as u128 {
        u64::MAX
    } else {
        ms as u64
    }
}
