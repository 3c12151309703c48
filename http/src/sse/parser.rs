//! The `text/event-stream` parser (WHATWG HTML §9.2.6), sans I/O.

use std::time::Duration;

use super::Event;

/// Parses an event stream fed in arbitrary pieces.
#[derive(Debug, Default, Clone)]
pub struct Parser {
    /// The current, unfinished line.
    line: Vec<u8>,
    /// The previous piece ended with CR: a leading LF is part of that line
    /// end.
    after_cr: bool,
    /// The stream start (a leading BOM is skipped).
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<Duration>,
}

impl Parser {
    /// A parser at the start of a stream.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// A parser that starts with a last event ID (after a reconnect).
    pub fn with_last_id(last_id: Option<String>) -> Parser {
        Parser {
            last_id,
            ..Parser::default()
        }
    }

    /// The last event ID seen.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The last `retry` the server asked for.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Feeds bytes; appends the events they complete to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Event>) {
        if !self.started {
            if self.line.len() + data.len() < 3
                && b"\xef\xbb\xbf".starts_with(&[&self.line[..], data].concat())
            {
                self.line.extend_from_slice(data);
                return;
            }
            self.started = true;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(data);
            let start = if head.starts_with(b"\xef\xbb\xbf") {
                3
            } else {
                0
            };
            let rest = head[start..].to_vec();
            return self.feed_lines(&rest, out);
        }
        if self.after_cr {
            if let Some(b'\n') = data.first() {
                data = &data[1..];
            }
            self.after_cr = false;
        }
        self.feed_lines(data, out);
    }

    fn feed_lines(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let mut i = 0;
        while i < data.len() {
            match data[i..].iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.line.extend_from_slice(&data[i..]);
                    return;
                }
                Some(p) => {
                    self.line.extend_from_slice(&data[i..i + p]);
                    let end = i + p;
                    i = end + 1;
                    if data[end] == b'\r' {
                        if i < data.len() {
                            if data[i] == b'\n' {
                                i += 1;
                            }
                        } else {
                            self.after_cr = true;
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    if let Some(ev) = self.line_done(&String::from_utf8_lossy(&line)) {
                        out.push(ev);
                    }
                }
            }
        }
    }

    fn line_done(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(Event {
            event: (!event.is_empty()).then_some(event),
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone().filter(|s| !s.is_empty()),
            retry: self.retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_split(input: &[u8]) -> Vec<Event> {
        let mut whole = Vec::new();
        Parser::new().feed(input, &mut whole);
        for cut in 0..=input.len() {
            let mut p = Parser::new();
            let mut out = Vec::new();
            p.feed(&input[..cut], &mut out);
            p.feed(&input[cut..], &mut out);
            assert_eq!(out, whole, "split at {cut}");
        }
        whole
    }

    #[test]
    fn spec_examples() {
        let evs = parse_split(b"\xef\xbb\xbfdata: YHOO\ndata: +2\r\ndata: 10\r\rid: 7\nevent: q\ndata:x\n\n: comment\n\ndata\n\n");
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].data, "YHOO\n+2\n10");
        assert_eq!(evs[0].id, None);
        assert_eq!(
            (evs[1].kind(), &evs[1].data[..], evs[1].id.as_deref()),
            ("q", "x", Some("7"))
        );
        assert_eq!(
            (evs[2].kind(), &evs[2].data[..], evs[2].id.as_deref()),
            ("message", "", Some("7"))
        );
    }

    #[test]
    fn retry_and_no_data() {
        let evs = parse_split(b"retry: 1500\nevent: x\n\nretry: soon\ndata: a\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind(), "message");
        assert_eq!(evs[0].retry, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn encode_then_parse() {
        let ev = Event::new("one\ntwo\r\nthree\rfour")
            .event("e")
            .unwrap()
            .id("42")
            .unwrap()
            .retry(Duration::from_millis(10));
        let mut wire = Vec::new();
        ev.encode(&mut wire).unwrap();
        let got = parse_split(&wire);
        assert_eq!(
            got,
            vec![Event {
                data: "one\ntwo\nthree\nfour".into(),
                ..ev
            }]
        );
        assert!(Event::new("x").event("a\nb").is_err());
        assert!(Event::new("x").id("a\rb").is_err());
    }
}
