//! The outgoing HTTP call: fetch a link's page and read its `<title>`,
//! under a deadline. Failure is normal (the page may be down, slow, or not
//! HTML) and only means the link has no title.

use std::io::Read;
use std::time::Duration;

use fibra::http::Client;

/// How much of a page is read looking for the title.
const MAX_HEAD: u64 = 64 * 1024;

/// Fetches page titles with a pooled client.
pub struct TitleFetcher {
    client: Client,
}

impl TitleFetcher {
    /// A fetcher whose every request (connect, send, read) must finish
    /// within `timeout`.
    ///
    /// # Errors
    /// The client's configuration errors.
    pub fn new(timeout: Duration) -> Result<TitleFetcher, String> {
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .max_redirects(5)
            .user_agent("fibra-backend-example/0.1 (title fetcher)")
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(TitleFetcher { client })
    }

    /// The `<title>` of the page at `url`, if it can be had in time.
    pub fn fetch(&self, url: &str) -> Option<String> {
        let resp = match self.client.get(url).send() {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(%url, error = %e, timeout = e.is_timeout(), "no title: request failed");
                return None;
            }
        };
        if !resp.status().is_success() {
            tracing::info!(%url, status = %resp.status(), "no title: not a success");
            return None;
        }
        let mut head = Vec::new();
        if let Err(e) = resp.take(MAX_HEAD).read_to_end(&mut head) {
            tracing::info!(%url, error = %e, "no title: reading the page failed");
            return None;
        }
        extract_title(&String::from_utf8_lossy(&head))
    }
}

/// The text of the first `<title>` element: entities decoded, whitespace
/// collapsed, at most 200 characters.
pub fn extract_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let raw = &html[start..end];
    let decoded = raw
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let title: String = decoded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    (!title.is_empty()).then_some(title)
}
