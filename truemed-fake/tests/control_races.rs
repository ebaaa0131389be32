//! The control API under concurrency, over real HTTP: each answer comes from the change it
//! reports, whatever races it.

mod support;

use serde_json::{json, Value};

/// What one racing request got: its status and body.
type Answer = (u16, Value);

/// One request over a shared client, with the fake's key.
async fn send(
    http: reqwest::Client,
    url: String,
    method: reqwest::Method,
    body: Option<Value>,
) -> Answer {
    let mut request = http.request(method, url).header("x-truemed-api-key", "sk_test_control");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_and_approves_racing_deletes_and_resets_answer_what_they_changed() {
    use futures::StreamExt as _;
    use reqwest::Method;

    const ITERATIONS: usize = 500;
    let (fake, receiver) = support::fake_delivering_once("whsec_race").await;
    let http = reqwest::Client::new();
    let base = fake.base_url();

    // Each iteration creates one session, approves it and deletes it at once, on three
    // connections; every tenth also resets the fake (its sessions: none).
    let outcomes: Vec<(String, Answer, Answer)> = futures::stream::iter(0..ITERATIONS)
        .map(|i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let id = format!("qs_race_{i}");
                let create = tokio::spawn(send(
                    http.clone(),
                    format!("{base}/_fake/sessions"),
                    Method::POST,
                    Some(json!({"qualification_session_id": id, "email": format!("{id}@example.com")})),
                ));
                let approve = tokio::spawn(send(
                    http.clone(),
                    format!("{base}/_fake/sessions/{id}/approve"),
                    Method::POST,
                    None,
                ));
                let delete = tokio::spawn(send(
                    http.clone(),
                    format!("{base}/_fake/sessions/{id}"),
                    Method::DELETE,
                    None,
                ));
                let reset = (i % 10 == 0).then(|| {
                    tokio::spawn(send(
                        http.clone(),
                        format!("{base}/_fake/reset"),
                        Method::POST,
                        Some(json!({"sessions": "none"})),
                    ))
                });
                let (create, approve, delete) =
                    (create.await.unwrap(), approve.await.unwrap(), delete.await.unwrap());
                assert!(matches!(delete.0, 204 | 404), "{id}: DELETE {delete:?}");
                if let Some(reset) = reset {
                    assert_eq!(reset.await.unwrap().0, 204, "{id}: reset");
                }
                (id, create, approve)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    fake.flush_webhooks().await;

    let mut approved = std::collections::HashMap::new();
    for (id, (status, created), (approve_status, decision)) in &outcomes {
        // A create always succeeds, and answers the session it created, untouched by the
        // approve and the DELETE racing it.
        assert_eq!(*status, 201, "{id}: create answered {created}");
        assert_eq!(created["qualification_session_id"], *id, "{created}");
        assert_eq!(created["email"], format!("{id}@example.com"), "{created}");
        assert_eq!(created["status"], "pending", "{id}: {created}");
        match approve_status {
            // The status changed: the answer is the approved session and its delivery.
            200 => {
                assert_eq!(decision["session"]["qualification_session_id"], *id);
                assert_eq!(decision["session"]["status"], "approved", "{decision}");
                let delivery = decision["webhook_delivery_id"].as_str();
                assert!(
                    delivery.is_some_and(|d| d.starts_with("whd_")),
                    "{id}: approved without naming its delivery: {decision}"
                );
                approved.insert(id.clone(), delivery.unwrap().to_owned());
            }
            404 => assert_eq!(decision["error"], "NotFound", "{decision}"),
            other => panic!("{id}: approve answered {other}: {decision}"),
        }
    }
    // Every delivery the receiver got was announced by the approve that started it: an
    // approve that answered 404 changed nothing and started nothing.
    for request in receiver.requests() {
        let envelope: Value = serde_json::from_slice(&request.body).unwrap();
        let id = envelope["data"]["qualification_session_id"].as_str().unwrap();
        let delivery = envelope["webhook_delivery_id"].as_str().unwrap();
        assert_eq!(
            approved.get(id).map(String::as_str),
            Some(delivery),
            "{id}: delivery {delivery} was sent, but its approve did not name it"
        );
    }
    // The race was run: some approves landed, some found nothing.
    let landed = approved.len();
    assert!(landed > 0 && landed < ITERATIONS, "{landed} of {ITERATIONS} approved");
}
