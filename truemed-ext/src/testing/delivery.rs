//! Webhook deliveries: when a test control moves a session to `approved` or `rejected`,
//! the fake POSTs `qualification_session_complete` to the configured receiver, signed or
//! unsigned, the way [`crate::webhook`] expects.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;

use truemed_api::types::{QualificationSession, QualificationSessionCompleteWebhook};

use super::lock::lock;

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

/// One delivery, ready to send.
pub(crate) struct Delivery {
    http: reqwest::Client,
    target: WebhookTarget,
    id: String,
    payload: QualificationSessionCompleteWebhook,
}

impl Webhooks {
    /// The delivery announcing the completion of `session`, if a receiver is configured.
    pub(crate) fn prepare(&self, session: QualificationSession) -> Option<Delivery> {
        let (target, http) = (self.target.clone()?, self.http.clone()?);
        let payload = QualificationSessionCompleteWebhook {
            email: session.email,
            expires_at: session.expires_at,
            qualification_session_id: session.qualification_session_id,
            source: session.source,
            status: session.status,
            user_id: session.user_id,
        };
        let id = format!("whd_{}", uuid::Uuid::new_v4().simple());
        Some(Delivery {
            http,
            target,
            id,
            payload,
        })
    }

    /// Keeps `task` so that [`flush`](Self::flush) waits for it.
    pub(crate) fn track(&self, task: JoinHandle<()>) {
        lock(&self.in_flight).push(task);
    }
}

impl Delivery {
    /// Sends it; true once a 2xx came back.
    pub(crate) async fn send(self) -> bool {
        send(&self.http, &self.target, &self.id, &self.payload).await
    }
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
