use super::entry::*;
use super::*;
use crate::domain::facts;
use axum::http::HeaderMap;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Second by second over five hours around a promised time: the
/// relative words never change before the instant given, and do at it.
#[test]
fn relative_words_change_exactly_when_said() {
    let at = t("2026-03-04T09:30:00.250Z");
    let mut now = t("2026-03-04T06:00:00.700Z");
    let end = t("2026-03-04T12:00:00Z");
    let mut checked = 0;
    while now < end {
        let words = facts::relative(at, now);
        match relative_changes_after(at, now) {
            None => {
                assert!(now > at, "{now}: words change again later");
                assert_eq!(words, None);
                assert_eq!(facts::relative(at, end), None);
                break;
            }
            Some(next) => {
                assert!(next > now);
                let mut probe = now;
                while probe < next {
                    assert_eq!(facts::relative(at, probe), words, "at {probe}");
                    probe += jiff::SignedDuration::from_millis(500);
                }
                assert_ne!(facts::relative(at, next), words, "at {next}");
                now = next;
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked} changes");
}

#[test]
fn accept_encoding_is_read_with_q_values() {
    assert!(accepts("gzip, deflate, br", "br"));
    assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
    assert!(!accepts("gzip, br;q=0", "br"));
    assert!(!accepts("gzip", "br"));
    assert!(accepts("*", "br"));
    assert!(!accepts("*;q=0", "gzip"));
    assert!(!accepts("", "gzip"));
    assert!(accepts("GZIP", "gzip"));
}

#[test]
fn http_dates_round_trip() {
    let at = t("2026-03-04T09:00:07Z");
    assert_eq!(http_date(at), "Wed, 04 Mar 2026 09:00:07 GMT");
    assert_eq!(parse_http_date(&http_date(at)), Some(at));
    assert_eq!(parse_http_date("yesterday"), None);
}

#[test]
fn a_rendering_matches_its_tags_in_every_coding() {
    let page = Bytes::from("<p>All systems operational</p>".repeat(20));
    let cached = Cached::build(
        1,
        Until::default(),
        HeaderMap::new(),
        page.clone(),
        t("2026-03-04T09:00:00Z"),
        None,
    );
    assert!(cached.gzip.is_some() && cached.brotli.is_some());
    for coding in [Coding::Identity, Coding::Gzip, Coding::Brotli] {
        let tag = etag(&cached.hash, coding);
        assert!(cached.matches(tag.to_str().unwrap()));
        assert!(cached.matches(&format!("W/{}", tag.to_str().unwrap())));
    }
    assert!(cached.matches("\"other\", *"));
    assert!(!cached.matches("\"other\""));
    // New bytes within the same second still get a later Last-Modified.
    let changed = Cached::build(
        2,
        Until::default(),
        HeaderMap::new(),
        Bytes::from("<p>Major system outage</p>"),
        t("2026-03-04T09:00:00.500Z"),
        Some(&cached),
    );
    assert!(changed.last_modified > cached.last_modified);
    let same = Cached::build(
        3,
        Until::default(),
        HeaderMap::new(),
        page,
        t("2026-03-04T09:05:00Z"),
        Some(&cached),
    );
    assert_eq!(same.last_modified, cached.last_modified);
    assert_eq!(same.hash, cached.hash);
}
