//! The dashboard: a page under [`PREFIX`] that a person opens in a browser to see and drive
//! the fake (sessions, webhook deliveries, the ledger, the counters, faults). It is one more
//! client of the [control API](crate::control): its script calls `/_fake/` with the key in
//! `x-truemed-api-key`, like any test suite, so there is still one implementation.
//!
//! Its files are embedded in the binary (nothing is fetched from elsewhere, so it works
//! offline) and served to anyone who can reach the fake, without the key: they hold no
//! data. The key travels in the address's fragment
//! ([`FakeTruemed::dashboard_url`]), which browsers never send to a server; the page
//! moves it to `sessionStorage` and out of the address bar. Every answer carries a
//! Content-Security-Policy without inline scripts, so a value the page shows (a session's
//! email, a receiver's answer) can never run, and `Referrer-Policy: no-referrer`.
//! Dashboard requests are not API requests: not counted, not hit by faults, not slowed.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::FakeTruemed;

/// The path prefix of the dashboard.
pub(crate) const PREFIX: &str = "/_dashboard";

/// The page and what it loads, embedded in the binary.
const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const STYLE_CSS: &str = include_str!("dashboard/style.css");
const FAVICON_SVG: &str = include_str!("dashboard/favicon.svg");

/// Only the page's own files, and requests to the fake's own origin; no inline script or
/// style, no frame, no form submission, no `<base>`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'none'; \
     object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The headers of every dashboard answer.
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-cache"),
    (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
];

impl FakeTruemed {
    /// The address of the fake's dashboard, with the API key in its fragment
    /// (`http://127.0.0.1:PORT/_dashboard/#key=…`): opened in a browser, the page is in at
    /// once. The fragment is never sent to the server, so the key appears in no request
    /// line, log or `Referer`; the page keeps it in `sessionStorage` and removes it from
    /// the address bar. `truemed-fake serve` prints this address after `listening on`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = truemed_fake::FakeTruemed::start().await;
    /// let url = fake.dashboard_url();
    /// assert!(url.starts_with(&format!("{}/_dashboard/#key=", fake.base_url())));
    /// # }
    /// ```
    pub fn dashboard_url(&self) -> String {
        let key: String = url::form_urlencoded::byte_serialize(self.api_key().as_bytes()).collect();
        format!("{}{PREFIX}/#key={key}", self.base_url())
    }
}

/// Whether `path` belongs to the dashboard.
pub(crate) fn is_dashboard_path(path: &str) -> bool {
    path == PREFIX || path.strip_prefix(PREFIX).is_some_and(|rest| rest.starts_with('/'))
}

/// The answer to a request for a dashboard path: one of the embedded files for `GET` and
/// `HEAD`, a redirect from `/_dashboard` to `/_dashboard/`, else a 404 or 405. Only the
/// method and the path are read.
pub(crate) fn respond(method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.\n");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let file = match path.strip_prefix(PREFIX).unwrap_or(path) {
        "" => {
            // The fragment, with the key, is kept by the browser across the redirect.
            let mut response = plain(StatusCode::PERMANENT_REDIRECT, "");
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/_dashboard/"));
            return response;
        }
        "/" | "/index.html" => (INDEX_HTML, "text/html; charset=utf-8"),
        "/app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "/style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        "/favicon.svg" => (FAVICON_SVG, "image/svg+xml"),
        _ => {
            return plain(
                StatusCode::NOT_FOUND,
                "No such dashboard file; the dashboard is at /_dashboard/.\n",
            )
        }
    };
    let (body, content_type) = file;
    with_headers(StatusCode::OK, content_type, body)
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    with_headers(status, "text/plain; charset=utf-8", body)
}

fn with_headers(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_paths() {
        assert!(is_dashboard_path("/_dashboard"));
        assert!(is_dashboard_path("/_dashboard/"));
        assert!(is_dashboard_path("/_dashboard/app.js"));
        assert!(!is_dashboard_path("/_dashboards"));
        assert!(!is_dashboard_path("/_fake/stats"));
    }

    #[test]
    fn every_file_is_served_with_its_type_and_the_security_headers() {
        for (path, content_type) in [
            ("/_dashboard/", "text/html; charset=utf-8"),
            ("/_dashboard/index.html", "text/html; charset=utf-8"),
            ("/_dashboard/app.js", "text/javascript; charset=utf-8"),
            ("/_dashboard/style.css", "text/css; charset=utf-8"),
            ("/_dashboard/favicon.svg", "image/svg+xml"),
        ] {
            let response = respond(&Method::GET, path);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            assert!(headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self';"));
        }
        assert_eq!(respond(&Method::GET, "/_dashboard").status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(respond(&Method::GET, "/_dashboard/x").status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(&Method::POST, "/_dashboard/").status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_page_holds_no_inline_script_or_style() {
        // The policy refuses them; the page must not need them.
        assert!(!INDEX_HTML.contains("<script>"));
        assert!(!INDEX_HTML.contains("style="));
        let handler = INDEX_HTML.match_indices(" on").any(|(at, _)| {
            let name: String =
                INDEX_HTML[at + 1..].chars().take_while(char::is_ascii_lowercase).collect();
            INDEX_HTML[at + 1 + name.len()..].starts_with('=')
        });
        assert!(!handler, "an inline event handler");
        for sink in [".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write"] {
            assert!(!APP_JS.contains(sink), "the page's script uses {sink}");
        }
    }
}
