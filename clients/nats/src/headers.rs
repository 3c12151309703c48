//! Message headers (`HPUB`/`HMSG`): an ordered multimap plus the optional
//! status line (`NATS/1.0 503`) the server uses for no-responders and
//! JetStream flow messages.

use std::fmt;

/// Headers of a NATS message: names map to one or more values, in the order
/// they were added. Names compare case-sensitively, as nats-server does.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(String, String)>,
    status: Option<u16>,
    description: Option<String>,
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HeaderMap");
        if let Some(s) = self.status {
            d.field("status", &s);
        }
        d.field("entries", &self.entries).finish()
    }
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// Sets `name` to the single value `value`, replacing earlier values.
    /// CR and LF are removed from both (they cannot be carried), and a `:`
    /// in the name is replaced by `-`.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let name = clean(name.as_ref()).replace(':', "-");
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, clean(value.as_ref())));
    }

    /// Adds `value` to the values of `name`.
    pub fn append(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let name = clean(name.as_ref()).replace(':', "-");
        self.entries.push((name, clean(value.as_ref())));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Removes every value of `name`; true if there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| n != name);
        before != self.entries.len()
    }

    /// All (name, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of (name, value) pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without pairs (a status line may still be present).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The status code of the header line (`NATS/1.0 503` → 503), set by
    /// the server on no-responders and JetStream control messages.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The description after the status code, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The size of [`HeaderMap::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let mut n = "NATS/1.0\r\n".len() + 2;
        if let Some(s) = self.status {
            n += 1 + s.to_string().len();
            if let Some(d) = &self.description {
                n += 1 + d.len();
            }
        }
        for (k, v) in &self.entries {
            n += k.len() + 2 + v.len() + 2;
        }
        n
    }

    /// Appends the wire form: `NATS/1.0\r\nName: value\r\n…\r\n`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"NATS/1.0");
        if let Some(s) = self.status {
            buf.extend_from_slice(format!(" {s}").as_bytes());
            if let Some(d) = &self.description {
                buf.push(b' ');
                buf.extend_from_slice(d.as_bytes());
            }
        }
        buf.extend_from_slice(b"\r\n");
        for (k, v) in &self.entries {
            buf.extend_from_slice(k.as_bytes());
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(v.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        buf.extend_from_slice(b"\r\n");
    }

    /// Parses a header block as found in an `HMSG`.
    ///
    /// # Errors
    /// A description when the block does not start with `NATS/1.0`, is not
    /// UTF-8, or has a line without a `:`.
    pub fn decode(block: &[u8]) -> Result<HeaderMap, String> {
        let text = std::str::from_utf8(block).map_err(|_| "header block is not UTF-8")?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or("");
        let rest = first
            .strip_prefix("NATS/1.0")
            .ok_or_else(|| format!("bad header line {first:?}"))?;
        let mut map = HeaderMap::new();
        let rest = rest.trim();
        if !rest.is_empty() {
            let (code, desc) = match rest.split_once(' ') {
                Some((c, d)) => (c, Some(d.trim())),
                None => (rest, None),
            };
            map.status = Some(code.parse().map_err(|_| format!("bad status {code:?}"))?);
            map.description = desc.filter(|d| !d.is_empty()).map(str::to_owned);
        }
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| format!("header line without ':' {line:?}"))?;
            map.entries.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        Ok(map)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for HeaderMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in iter {
            m.append(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", "1");
        h.append("X", "a");
        h.append("X", "b");
        h.insert("Bad\r\n:Name", "v\r\nx");
        let mut buf = Vec::new();
        h.encode(&mut buf);
        assert_eq!(buf.len(), h.encoded_len());
        let back = HeaderMap::decode(&buf).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.get_all("X").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(back.get("Bad-Name"), Some("vx"));
    }

    #[test]
    fn status_line() {
        let h = HeaderMap::decode(b"NATS/1.0 503\r\n\r\n").unwrap();
        assert_eq!(h.status(), Some(503));
        let h = HeaderMap::decode(b"NATS/1.0 408 Request Timeout\r\n\r\n").unwrap();
        assert_eq!(
            (h.status(), h.description()),
            (Some(408), Some("Request Timeout"))
        );
        let mut buf = Vec::new();
        h.encode(&mut buf);
        assert_eq!(buf.len(), h.encoded_len());
        assert!(HeaderMap::decode(b"HTTP/1.1\r\n\r\n").is_err());
    }
}
