//! Webhook deliveries: when a test control moves a session to `approved` or `rejected`,
//! the fake POSTs `qualification_session_complete` to the configured receiver, signed or
//! unsigned, the way [`crate::webhook`] expects.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;

use super::server::{lock, Shared};
use crate::{QualificationSession, QualificationSessionCompleteWebhook};

/// How many times a delivery is attempted before it counts as failed.
const ATTEMPTS: u32 = 3;

/// Where completion webhooks go.
#[derive(Clone)]
pub(crate) struct WebhookTarget {
    pub(crate) url: String,
    pub(crate) secret: String,
    pub(crate) signed: bool,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .field("signed", &self.signed)
            .finish()
    }
}

/// The webhook configuration and the deliveries in flight.
#[derive(Debug, Default)]
pub(crate) struct Webhooks {
    target: Option<WebhookTarget>,
    http: Option<reqwest::Client>,
    in_flight: Mutex<Vec<JoinHandle<()>>>,
}

impl Webhooks {
    pub(crate) fn new(target: Option<WebhookTarget>) -> Self {
        Self {
            http: target.as_ref().map(|_| reqwest::Client::new()),
            target,
            in_flight: Mutex::new(Vec::new()),
        }
    }

    /// Waits until every delivery started so far has finished (delivered or given up).
    pub(crate) async fn flush(&self) {
        loop {
            let pending: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.in_flight));
            if pending.is_empty() {
                return;
            }
            for task in pending {
                let _ = task.await;
            }
        }
    }
}

/// Starts delivering the completion of `session`, if a receiver is configured.
pub(crate) fn deliver(
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Handle,
    session: QualificationSession,
) {
    let (Some(target), Some(http)) = (shared.webhooks.target.clone(), shared.webhooks.http.clone())
    else {
        return;
    };
    let payload = QualificationSessionCompleteWebhook {
        email: session.email,
        expires_at: session.expires_at,
        qualification_session_id: session.qualification_session_id,
        source: session.source,
        status: session.status,
        user_id: session.user_id,
    };
    let delivery_id = format!("whd_{}", uuid::Uuid::new_v4().simple());
    let task_shared = Arc::clone(shared);
    let task = runtime.spawn(async move {
        let delivered = send(&http, &target, &delivery_id, &payload).await;
        let mut state = task_shared.state();
        if delivered {
            state.stats.webhooks_delivered += 1;
        } else {
            state.stats.webhooks_failed += 1;
        }
    });
    lock(&shared.webhooks.in_flight).push(task);
}

/// Sends one delivery, retrying a few times with a short backoff; true once a 2xx came back.
async fn send(
    http: &reqwest::Client,
    target: &WebhookTarget,
    delivery_id: &str,
    payload: &QualificationSessionCompleteWebhook,
) -> bool {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        // Redeliveries are signed afresh but keep the delivery id, as Truemed's do.
        let (body, headers) = if target.signed {
            let body = crate::webhook::envelope_body(delivery_id, payload);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let headers = crate::webhook::signed_headers(&target.secret, now, &body);
            (body, headers)
        } else {
            let body = serde_json::to_vec(payload).unwrap_or_default();
            match crate::webhook::unsigned_headers(&target.secret) {
                Ok(headers) => (body, headers),
                Err(_) => {
                    tracing::warn!("fake Truemed: the webhook secret is not a valid header value");
                    return false;
                }
            }
        };
        match http
            .post(&target.url)
            .headers(headers)
            .body(body)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) => {
                tracing::debug!(status = %response.status(), attempt, "fake Truemed: webhook refused");
            }
            Err(error) => tracing::debug!(%error, attempt, "fake Truemed: webhook not delivered"),
        }
    }
    false
}
