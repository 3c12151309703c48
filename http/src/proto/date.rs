//! The `Date` header value, formatted at most once per second per thread.

use std::cell::RefCell;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

struct Cached {
    secs: u64,
    text: [u8; DATE_LEN],
}

thread_local! {
    // Only borrowed inside `with_date`, which never yields, so a coroutine
    // cannot migrate while holding it.
    static CACHE: RefCell<Cached> = const { RefCell::new(Cached { secs: u64::MAX, text: [b' '; DATE_LEN] }) };
}

/// Calls `f` with the current time as an HTTP date (`Sun, 06 Nov 1994
/// 08:49:37 GMT`). The text is re-formatted at most once per second.
pub fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.secs != secs {
            c.secs = secs;
            c.text = format_date(secs);
        }
        f(&c.text)
    })
}

/// Formats seconds since the Unix epoch as an HTTP date (IMF-fixdate).
/// Times after the year 9999, which the format cannot hold, give
/// `Fri, 31 Dec 9999 23:59:59 GMT`.
pub fn fmt_http_date(secs_since_epoch: u64) -> String {
    httpdate::fmt_http_date(system_time(secs_since_epoch))
}

/// Parses an HTTP date into seconds since the Unix epoch: the IMF-fixdate
/// form (`Sun, 06 Nov 1994 08:49:37 GMT`, the only one senders may
/// generate) and, as RFC 9110 section 5.6.7 asks of recipients, the obsolete
/// RFC 850 and asctime forms. `None` for anything else or a date before 1970.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// The last second an HTTP date can hold: 9999-12-31 23:59:59.
const MAX_SECS: u64 = 253_402_300_799;

fn system_time(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.min(MAX_SECS))
}

fn format_date(secs: u64) -> [u8; DATE_LEN] {
    let mut out = [b' '; DATE_LEN];
    let date = httpdate::HttpDate::from(system_time(secs));
    // An IMF-fixdate of a year up to 9999 is always DATE_LEN bytes long.
    let _ = write!(&mut out[..], "{date}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats() {
        for secs in [0, 784_111_777, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_http_date(&fmt_http_date(secs)), Some(secs));
        }
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn known_dates() {
        assert_eq!(fmt_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(fmt_http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(fmt_http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            fmt_http_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 GMT"
        );
        assert_eq!(fmt_http_date(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn cached_date_has_right_shape() {
        with_date(|d| {
            assert_eq!(d.len(), DATE_LEN);
            assert!(d.ends_with(b" GMT"));
        });
    }
}
