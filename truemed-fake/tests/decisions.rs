//! The Rust handle's decisions on sessions (approve, reject, set_status, remove) and the
//! demo sessions, seen through the client over real HTTP.

mod support;

use chrono::Utc;
use futures::TryStreamExt as _;
use truemed_ext::{ApiErrorKind, Error, Status};
use truemed_fake::{demo_sessions, FakeTruemed, DEMO_SESSION_ID};

/// A fake seeded with the demo sessions.
async fn with_demo_sessions() -> FakeTruemed {
    FakeTruemed::builder().seed_all(demo_sessions()).start().await
}

#[tokio::test]
async fn approve_and_reject_move_sessions_to_terminal_statuses() {
    let fake = with_demo_sessions().await;
    let sessions = fake.client().qualification_sessions();
    assert_eq!(sessions.get(DEMO_SESSION_ID).await.unwrap().status, Status::Pending);

    let approved = fake.approve(DEMO_SESSION_ID).unwrap();
    assert_eq!(approved.status, Status::Approved);
    assert!(approved.lmn_reviewed_at.is_some());
    assert!(approved.expires_at.unwrap() > Utc::now());
    let got = sessions.get(DEMO_SESSION_ID).await.unwrap();
    assert_eq!(got.status, Status::Approved);

    let pending = fake.sessions().into_iter().find(|s| s.status == Status::Pending).unwrap();
    let rejected = fake.reject(&pending.qualification_session_id).unwrap();
    assert_eq!(rejected.status, Status::Rejected);
    assert_eq!(
        sessions.get(&pending.qualification_session_id).await.unwrap().status,
        Status::Rejected
    );
    assert!(fake.set_status(&pending.qualification_session_id, Status::Processing).is_some());
    assert!(fake.approve("qs_unknown").is_none());

    // An update after the decision stores its fields and leaves the status alone.
    let out =
        sessions.update(DEMO_SESSION_ID).success_url("https://late.example").send().await.unwrap();
    assert_eq!(out.status, Status::Approved);
    assert_eq!(
        fake.record(DEMO_SESSION_ID).unwrap().success_url.as_deref(),
        Some("https://late.example")
    );

    assert!(fake.remove(DEMO_SESSION_ID).is_some());
    assert!(matches!(
        sessions.get(DEMO_SESSION_ID).await,
        Err(Error::Api(ref e)) if e.kind() == ApiErrorKind::NotFound
    ));
}

#[tokio::test]
async fn demo_sessions_are_realistic_and_listable() {
    let fake = with_demo_sessions().await;
    let sessions = fake.client().qualification_sessions();
    let all: Vec<_> = sessions.list().stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 50);
    for status in Status::KNOWN {
        assert!(all.iter().any(|s| s.status == status), "{status}");
    }
    assert!(all.iter().any(|s| s.user_name.is_none() && s.status.is_terminal()));
    assert!(all.iter().any(|s| s.user_id.is_some()));
    let expiry = all.iter().find_map(|s| s.expires_at).unwrap().date_naive();
    let expiring = sessions.list().expires_at(expiry).send().await.unwrap();
    assert!(expiring.items.len() > 1);
}
