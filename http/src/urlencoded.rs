//! `application/x-www-form-urlencoded` decoding (query strings and forms)
//! and `Cookie` header parsing.

/// Decodes `a=1&b=x+y` into pairs, percent- and `+`-decoded. Malformed
/// escapes are kept literally, invalid UTF-8 is replaced (as browsers do).
pub(crate) fn parse_pairs(s: &[u8]) -> Vec<(String, String)> {
    s.split(|&b| b == b'&' || b == b';')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decodes `s`, with `+` as space.
pub(crate) fn decode(s: &[u8]) -> String {
    decode_with(s, true)
}

/// Percent-decodes a path segment or route parameter (`+` stays `+`).
pub(crate) fn decode_path(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    decode_with(s.as_bytes(), false)
}

fn decode_with(s: &[u8], plus_is_space: bool) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
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
        assert_eq!(decode(b"%E2%82%AC%"), "\u{20ac}%");
        assert_eq!(decode(b"%ff"), "\u{fffd}");
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
