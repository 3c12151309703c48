//! `application/x-www-form-urlencoded` decoding (query strings and forms)
//! and `Cookie` header parsing.

use percent_encoding::percent_decode_str;

/// Decodes `a=1&b=x+y` into pairs, percent- and `+`-decoded. Malformed
/// escapes are kept literally, invalid UTF-8 is replaced (as browsers do).
/// `;` separates pairs too (HTML 4's recommendation, which `form_urlencoded`
/// does not follow), so the split stays here.
pub(crate) fn parse_pairs(s: &[u8]) -> Vec<(String, String)> {
    s.split(|&b| b == b'&' || b == b';')
        .filter_map(|pair| form_urlencoded::parse(pair).next())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Percent-decodes a path segment or route parameter (`+` stays `+`).
pub(crate) fn decode_path(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The value of cookie `name` in a `Cookie` header value (`a=1; b=2`), with
/// surrounding double quotes removed.
pub(crate) fn find_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        if k.trim() != name {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(
            parse_pairs(b"a=1&b=x+y%21&c&&d=%zz&e=%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new()),
                ("d".into(), "%zz".into()),
                ("e".into(), "%4".into()),
            ]
        );
        let value = |s: &[u8]| parse_pairs(s).pop().map(|(_, v)| v);
        assert_eq!(value(b"k=%E2%82%AC%").as_deref(), Some("\u{20ac}%"));
        assert_eq!(value(b"k=%ff").as_deref(), Some("\u{fffd}"));
        assert_eq!(parse_pairs(b"a=1;b=2").len(), 2);
        assert_eq!(decode_path("a+b%2Fc%2e%2E"), "a+b/c..");
    }

    #[test]
    fn cookies() {
        let h = "a=1; session=\"abc\" ; b=2";
        assert_eq!(find_cookie(h, "session"), Some("abc"));
        assert_eq!(find_cookie(h, "b"), Some("2"));
        assert_eq!(find_cookie(h, "c"), None);
    }
}
