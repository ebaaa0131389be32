//! Requests the client refuses before sending anything, each with its typed reason: ids that
//! are empty or would leave their path segment, blank filters, fields over their limits,
//! invalid idempotency keys, metadata that does not serialize.

mod support;
use support::ScriptedClient as _;

use std::future::IntoFuture;

use futures::StreamExt as _;
use support::{client_to, session, Reply, Scripted};
use truemed_ext::{Error, InvalidRequestReason, Status};

/// The error `request` is refused with (the test expects it to fail).
async fn refused<T: std::fmt::Debug>(request: impl IntoFuture<Output = Result<T, Error>>) -> Error {
    request.await.unwrap_err()
}

/// Whether `reason` refuses `field` for being `length` characters long, over its `limit`.
fn is_too_long(reason: &InvalidRequestReason, field: &str, length: usize, limit: usize) -> bool {
    matches!(
        reason,
        InvalidRequestReason::FieldTooLong { field: f, length: l, limit: m, .. }
            if *f == field && *l == length && *m == limit
    )
}

/// `error` refuses the request for a reason that `is`, says `expected`, and is not retried.
#[track_caller]
fn assert_refused(error: &Error, expected: &str, is: impl Fn(&InvalidRequestReason) -> bool) {
    let Error::InvalidRequest(refused) = error else { panic!("{error:?}") };
    assert!(is(refused.reason()), "{error:?}");
    assert!(error.to_string().contains(expected), "{error} lacks {expected:?}");
    assert!(!error.is_retryable());
}

fn is_invalid_status_filter(reason: &InvalidRequestReason) -> bool {
    matches!(reason, InvalidRequestReason::InvalidStatusFilter { .. })
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = Scripted::sequence(vec![Reply::json(200, session("qs_1", "pending"))]).await;
    let (client, _) = server.client();
    let qs = client.qualification_sessions();
    // Each field one character over its limit.
    let too_long = [
        ("user_id", 255, qs.update("qs_1").user_id("u".repeat(256))),
        ("metadata", 4096, qs.update("qs_1").metadata_raw("m".repeat(4097))),
        ("success_url", 2048, qs.update("qs_1").success_url("s".repeat(2049))),
        ("failure_url", 2048, qs.update("qs_1").failure_url("f".repeat(2049))),
    ];
    for (field, limit, request) in too_long {
        let length = limit + 1;
        let expected = format!(
            "{field} is {length} characters long; Truemed refuses it (longer than {limit} characters)"
        );
        assert_refused(&refused(request).await, &expected, |reason| {
            is_too_long(reason, field, length, limit)
        });
    }
    type Is = fn(&InvalidRequestReason) -> bool;
    let cases: Vec<(Error, &str, Is)> = vec![
        (refused(qs.update("").user_id("u")).await, "id is empty", |reason| {
            matches!(reason, InvalidRequestReason::EmptyId)
        }),
        (refused(qs.get("")).await, "id is empty", |reason| {
            matches!(reason, InvalidRequestReason::EmptyId)
        }),
        (refused(qs.list().page(0)).await, "start at 1", |reason| {
            matches!(reason, InvalidRequestReason::PageOutOfRange { page: 0, .. })
        }),
        (refused(qs.list().page_size(0)).await, "at least 1", |reason| {
            matches!(reason, InvalidRequestReason::PageSizeOutOfRange { page_size: 0, .. })
        }),
        (
            refused(qs.list().status(Status::from("a,b"))).await,
            "lowercase word",
            is_invalid_status_filter,
        ),
        (
            refused(qs.list().status(Status::from("Approved"))).await,
            "lowercase word",
            is_invalid_status_filter,
        ),
        (
            refused(qs.list().statuses([Status::Approved, Status::from("")])).await,
            "lowercase word",
            is_invalid_status_filter,
        ),
        (
            refused(
                qs.update("qs_1")
                    .metadata(&std::collections::HashMap::from([(
                        (1, 2),
                        "tuple keys are not JSON",
                    )]))
                    .user_id("later setters keep the first error"),
            )
            .await,
            "cannot be encoded",
            |reason| matches!(reason, InvalidRequestReason::MetadataNotSerializable { .. }),
        ),
    ];
    for (error, expected, is) in cases {
        assert_refused(&error, expected, is);
    }
    assert_eq!(server.count(), 0, "something was sent");
    // Limits are inclusive.
    qs.update("qs_1").user_id("u".repeat(255)).metadata_raw("m".repeat(4096)).send().await.unwrap();
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn dot_segments_empty_ids_and_backslashes_are_refused_before_sending() {
    let server = Scripted::sequence(vec![Reply::json(200, session("x", "approved"))]).await;
    let sessions = client_to(&server.base_url).qualification_sessions();
    let reason = |error: &Error| match error {
        Error::InvalidRequest(refused) => Some(refused.reason().clone()),
        _ => None,
    };
    for (id, expected) in [
        ("", InvalidRequestReason::EmptyId),
        (".", InvalidRequestReason::DotSegmentId),
        ("..", InvalidRequestReason::DotSegmentId),
        ("a\\..\\b", InvalidRequestReason::BackslashInId),
        ("\\", InvalidRequestReason::BackslashInId),
    ] {
        let got = sessions.get(id).await.unwrap_err();
        assert_eq!(reason(&got), Some(expected.clone()), "{id:?}: {got:?}");
        let updated = sessions.update(id).user_id("u").send().await.unwrap_err();
        assert_eq!(reason(&updated), Some(expected), "{id:?}");
    }
    for (name, request) in [
        ("user_id", sessions.list().user_id("")),
        ("user_id", sessions.list().user_id(" \t")),
        ("search", sessions.list().search("")),
        ("search", sessions.list().search("   ")),
    ] {
        let error = request.send().await.unwrap_err();
        assert!(
            matches!(
                reason(&error),
                Some(InvalidRequestReason::BlankFilter { filter, .. }) if filter == name
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(name), "{error}");
    }
    let streamed: Vec<_> = sessions.list().user_id("").stream().collect().await;
    assert!(matches!(
        streamed.as_slice(),
        [Err(Error::InvalidRequest(refused))]
            if matches!(refused.reason(), InvalidRequestReason::BlankFilter { filter: "user_id", .. })
    ));
    assert_eq!(server.count(), 0, "nothing was sent");
}
