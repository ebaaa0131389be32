//! [`retry_after`]: how long a server asked the client to wait, from `Retry-After` or
//! `retry-after-ms`. What a server sends is untrusted: any value parses without
//! panicking.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// How long the server asked to wait, from `retry-after-ms` (milliseconds, fractions
/// allowed) or else `Retry-After` (seconds, or an HTTP date relative to `now`). The one
/// place these headers are read: any value parses without panicking, a huge one saturates
/// at `Duration::MAX`, and a negative, NaN or garbage one counts as absent.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|text| wait_of(text, Unit::Millis)) {
        return Some(ms);
    }
    let value = header(reqwest::header::RETRY_AFTER.as_str())?;
    if let Some(wait) = wait_of(value, Unit::Seconds) {
        return Some(wait);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
}

/// A non-negative number of `unit`s as a duration, saturating at `Duration::MAX`.
fn wait_of(text: &str, unit: Unit) -> Option<Duration> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Integers are exact however long: one too big for u64 saturates.
        return Some(match (text.parse::<u64>(), unit) {
            (Ok(whole), Unit::Seconds) => Duration::from_secs(whole),
            (Ok(whole), Unit::Millis) => Duration::from_millis(whole),
            (Err(_), _) => Duration::MAX,
        });
    }
    let value = text.parse::<f64>().ok()?;
    if value.is_nan() || value.is_sign_negative() {
        return None;
    }
    let seconds = match unit {
        Unit::Seconds => value,
        Unit::Millis => value / 1000.0,
    };
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (reqwest::header::HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())
            })
            .collect()
    }

    #[test]
    fn retry_after_seconds_date_and_ms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&[("retry-after", &past)]), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "2.5")]), now),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1.5")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn absurd_retry_after_values_saturate_or_are_ignored() {
        let now = SystemTime::now();
        for (name, value, expected) in [
            ("retry-after-ms", "1e30", Some(Duration::MAX)),
            ("retry-after-ms", "inf", Some(Duration::MAX)),
            ("retry-after-ms", "99999999999999999999999", Some(Duration::MAX)),
            ("retry-after-ms", "NaN", None),
            ("retry-after-ms", "-1", None),
            ("retry-after-ms", "-0", None),
            ("retry-after", "99999999999999999999999", Some(Duration::MAX)),
            ("retry-after", "1e300", Some(Duration::MAX)),
            ("retry-after", "18446744073709551616", Some(Duration::MAX)),
            ("retry-after", "", None),
            ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT", None),
        ] {
            let got = retry_after(&headers(&[(name, value)]), now);
            if name == "retry-after" && value.starts_with("Fri") {
                assert!(got.is_some(), "{value}");
                continue;
            }
            assert_eq!(got, expected, "{name}: {value}");
        }
    }
}
