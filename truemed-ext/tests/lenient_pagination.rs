//! A page's `pagination` numbers are read leniently over real HTTP: Truemed documents no
//! types for them, so a number in another form is read, and one that cannot be read counts
//! as absent. Either way the page decodes and the listing goes on, never ending on a page it
//! could not read.

mod support;

use futures::TryStreamExt as _;
use httpmock::Method::GET;
use httpmock::{Mock, MockServer};
use serde_json::{json, Value};
use support::client_without_retries;

const PATH: &str = "/api/v1/qualification_sessions";
const PAGE_SIZE: u64 = 2;
/// Sessions on the pages 1, 2 and 3 (the last one short).
const PAGES: [&[&str]; 3] = [&["qs_1", "qs_2"], &["qs_3", "qs_4"], &["qs_5"]];

/// Serves the three pages, each with the `pagination` that `pagination(page)` gives, and an
/// empty page 4. Returns the mock of each page, 1 to 4.
async fn serve(server: &MockServer, pagination: impl Fn(u64) -> Value) -> Vec<Mock<'_>> {
    let mut mocks = Vec::new();
    for page in 1..=4u64 {
        let ids = PAGES.get(page as usize - 1).copied().unwrap_or(&[]);
        let sessions: Vec<Value> = ids
            .iter()
            .map(|id| json!({"qualification_session_id": id, "status": "approved"}))
            .collect();
        let body = json!({"qualification_sessions": sessions, "pagination": pagination(page)});
        mocks.push(
            server
                .mock_async(|when, then| {
                    when.method(GET)
                        .path(PATH)
                        .query_param("page", page.to_string())
                        .query_param("page_size", PAGE_SIZE.to_string());
                    then.status(200).json_body(body);
                })
                .await,
        );
    }
    mocks
}

/// Every session of the listing, in order, or the error that ended it. One request at a
/// time, so that no page is asked for before the one that could be the last is read.
async fn list_all(server: &MockServer) -> Result<Vec<String>, truemed_ext::Error> {
    let sessions: Vec<_> = client_without_retries(&server.base_url())
        .qualification_sessions()
        .list()
        .page_size(PAGE_SIZE)
        .paginate()
        .concurrency(1)
        .items()
        .try_collect()
        .await?;
    Ok(sessions.into_iter().map(|session| session.qualification_session_id).collect())
}

fn every_id() -> Vec<String> {
    PAGES.concat().into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn a_pagination_whose_every_number_is_unreadable_is_paged_as_if_missing() {
    for odd in [
        json!(-1),
        json!(3.5),
        json!("3.5"),
        json!(18446744073709551615u64),
        json!(1e300),
        json!("18446744073709551615"),
        json!("abc"),
        json!(""),
        json!(true),
        json!({"value": 3}),
        json!([3]),
    ] {
        let server = MockServer::start_async().await;
        let mocks = serve(
            &server,
            |_| json!({"count": odd, "current_page": odd, "last_page": odd, "page_size": odd}),
        )
        .await;
        let ids = list_all(&server)
            .await
            .unwrap_or_else(|error| panic!("pagination numbers {odd}: {error}"));
        assert_eq!(ids, every_id(), "pagination numbers {odd}");
        // As with a null `pagination`: the pages are fetched until the listing ends on the
        // short page or the empty page after it.
        for mock in &mocks[..3] {
            assert_eq!(mock.calls_async().await, 1, "pagination numbers {odd}");
        }
    }
}

#[tokio::test]
async fn a_pagination_with_one_unreadable_number_keeps_the_others() {
    // `last_page` cannot be read; the listing still stops on the short page, because the
    // page size it can read says the page is short.
    let server = MockServer::start_async().await;
    let mocks = serve(
        &server,
        |page| json!({"count": 5, "current_page": page, "last_page": "three", "page_size": 2}),
    )
    .await;
    assert_eq!(list_all(&server).await.unwrap(), every_id());
    assert_eq!(mocks[3].calls_async().await, 0, "page 4 was requested");
}

#[tokio::test]
async fn a_pagination_whose_numbers_come_as_strings_or_floats_is_followed() {
    type Form = fn(u64) -> Value;
    let forms: [(&str, Form); 5] = [
        ("float", |n| json!(n as f64)),
        ("exponent", |n| json!(format!("{n}e0").parse::<f64>().unwrap())),
        ("string", |n| json!(n.to_string())),
        ("string with a fraction", |n| json!(format!("{n}.0"))),
        ("string with spaces", |n| json!(format!(" {n} "))),
    ];
    for (name, form) in forms {
        let server = MockServer::start_async().await;
        let mocks = serve(&server, |page| {
            json!({
                "count": form(5),
                "current_page": form(page),
                "last_page": form(3),
                "page_size": form(PAGE_SIZE),
            })
        })
        .await;
        let ids = list_all(&server).await.unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(ids, every_id(), "{name}");
        // `last_page` was read: nothing past page 3 is asked for.
        assert_eq!(mocks[3].calls_async().await, 0, "{name}: page 4 was requested");
    }
}

#[tokio::test]
async fn a_page_reports_the_numbers_it_could_read() {
    let server = MockServer::start_async().await;
    serve(
        &server,
        |_| json!({"count": "250", "current_page": 1.0, "last_page": 18446744073709551615u64}),
    )
    .await;
    let page = client_without_retries(&server.base_url())
        .qualification_sessions()
        .list()
        .page_size(PAGE_SIZE)
        .send()
        .await
        .unwrap();
    assert_eq!(page.total_count(), Some(250));
    assert_eq!(page.last_page(), None);
    assert_eq!(page.items.len(), 2);
}
