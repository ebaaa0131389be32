//! The control API's sessions and decisions (`/_fake/sessions`, `/approve`, `/reject`,
//! `/status`) over real HTTP against an in-process `FakeTruemed`: what a test suite in
//! another language does, seen through the API too.

mod support;

use serde_json::json;
use support::{call, fake};
use truemed_ext::{ApiErrorKind, Error, Status};
use truemed_fake::SessionSeed;

#[tokio::test]
async fn a_created_session_is_seen_by_the_api_and_the_control_api() {
    let fake = fake().await;
    let (status, created) = call(
        &fake,
        "POST",
        "/_fake/sessions",
        Some(json!({
            "qualification_session_id": "qs_1",
            "email": "ada@example.com",
            "user_name": "Ada Lovelace",
            "eligible_amount": 12000,
            "expires_at": "2025-06-01T00:00:00Z",
            "metadata": "{\"crm_id\":7}",
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["qualification_session_id"], "qs_1");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["metadata"], "{\"crm_id\":7}");
    assert_eq!(created["idempotency_keys"], json!([]));
    assert!(created["created_at"].is_string());
    assert!(created["user_id"].is_null());

    // Defaults: a generated id, pending, created now; or no created_at when null.
    let (status, generated) = call(&fake, "POST", "/_fake/sessions", None).await;
    assert_eq!(status, 201);
    let generated_id = generated["qualification_session_id"].as_str().unwrap();
    assert!(generated_id.starts_with("qs_"), "{generated_id}");
    let (_, undated) = call(
        &fake,
        "POST",
        "/_fake/sessions",
        Some(json!({"qualification_session_id": "qs_undated", "created_at": null, "status": "processing"})),
    )
    .await;
    assert!(undated["created_at"].is_null());

    // The API serves them.
    let client = fake.client();
    let one = client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(one.email.as_deref(), Some("ada@example.com"));
    assert_eq!(one.eligible_amount.map(|a| a.as_f64()), Some(12000.0));
    let page = client.qualification_sessions().list().send().await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[2].qualification_session_id, "qs_undated");

    // So does the control API, and the Rust handle.
    let (status, list) = call(&fake, "GET", "/_fake/sessions", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 3);
    let (status, record) = call(&fake, "GET", "/_fake/sessions/qs_1", None).await;
    assert_eq!((status, &record["email"]), (200, &json!("ada@example.com")));
    assert_eq!(fake.record("qs_1").unwrap().metadata.as_deref(), Some("{\"crm_id\":7}"));

    // Removed: the API says 404.
    let (status, _) = call(&fake, "DELETE", "/_fake/sessions/qs_1", None).await;
    assert_eq!(status, 204);
    assert!(matches!(
        client.qualification_sessions().get("qs_1").await,
        Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::NotFound
    ));
    let (status, body) = call(&fake, "DELETE", "/_fake/sessions/qs_1", None).await;
    assert_eq!((status, &body["error"]), (404, &json!("NotFound")));
}

#[tokio::test]
async fn decisions_change_the_status_and_name_the_delivery() {
    let fake = fake().await;
    fake.seed(SessionSeed::new("qs_1"));
    fake.seed(SessionSeed::new("qs_2"));
    fake.seed(SessionSeed::new("qs_3"));

    // No endpoint: no delivery.
    let (status, decision) = call(&fake, "POST", "/_fake/sessions/qs_1/approve", None).await;
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["session"]["status"], "approved");
    assert!(decision["session"]["expires_at"].is_string());
    assert!(decision["session"]["lmn_reviewed_at"].is_string());
    assert!(decision["webhook_delivery_id"].is_null());

    let (status, decision) =
        call(&fake, "POST", "/_fake/sessions/qs_2/reject", Some(json!({}))).await;
    assert_eq!((status, &decision["session"]["status"]), (200, &json!("rejected")));
    let (status, decision) =
        call(&fake, "POST", "/_fake/sessions/qs_3/status", Some(json!({"status": "processing"})))
            .await;
    assert_eq!((status, &decision["session"]["status"]), (200, &json!("processing")));
    assert_eq!(fake.session("qs_3").unwrap().status, Status::Processing);

    let (status, body) = call(&fake, "POST", "/_fake/sessions/qs_missing/approve", None).await;
    assert_eq!((status, &body["error"]), (404, &json!("NotFound")));
}
