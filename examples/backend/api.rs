//! The JSON API and the redirect.
//!
//! | route | what |
//! |---|---|
//! | `GET /:code` | `302` to the link's URL (counts a visit) |
//! | `GET /api/links` | the newest links (`?limit=`, at most 200) |
//! | `POST /api/links` | `{"url": "...", "code": "optional"}`: `201` and the link |
//! | `GET /api/links/:code` | one link; `X-Cache: hit` or `miss` |
//! | `DELETE /api/links/:code` | `204` |
//! | `GET /api/stats` | counters: cache, events, live clients, rate limit |
//! | `GET /healthz` | `200 ok` when PostgreSQL answers |

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fibra::http::{Error, Request, Response, StatusCode, Uri};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::events::Kind;
use crate::store::{Link, StoreError};

/// Largest request body the API reads.
const MAX_BODY: usize = 16 * 1024;

/// Paths at the root that are not short codes.
const RESERVED: &[&str] = &["api", "static", "healthz", "favicon.ico"];

/// Answers `status` with `{"error": message}`.
fn fail(resp: &mut Response, status: StatusCode, message: &str) -> Result<(), Error> {
    json(resp, status, &serde_json::json!({ "error": message }))
}

/// Answers `status` with `value` as JSON.
fn json<T: Serialize + ?Sized>(
    resp: &mut Response,
    status: StatusCode,
    value: &T,
) -> Result<(), Error> {
    let body = serde_json::to_vec(value).map_err(Error::internal)?;
    resp.status(status)
        .header("content-type", "application/json")?
        .body(body);
    Ok(())
}

fn store_failed(resp: &mut Response, e: &StoreError) -> Result<(), Error> {
    match e {
        StoreError::Duplicate => fail(resp, StatusCode::CONFLICT, "that code is taken"),
        StoreError::Db(e) => {
            tracing::error!(error = %e, "database call failed");
            fail(
                resp,
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable",
            )
        }
    }
}

/// A random 7-character code from `[0-9A-Za-z]`.
fn new_code() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut n = h.finish();
    (0..7)
        .map(|_| {
            let c = ALPHABET[(n % 62) as usize] as char;
            n /= 62;
            c
        })
        .collect()
}

fn valid_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !RESERVED.contains(&code)
}

fn valid_url(url: &str) -> bool {
    url.len() <= 2048
        && url.parse::<Uri>().is_ok_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some_and(|h| !h.is_empty())
        })
}

#[derive(Deserialize)]
struct NewLink {
    url: String,
    code: Option<String>,
}

#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    link: &'a Link,
    short_url: String,
}

/// `POST /api/links`.
pub fn create(app: &Arc<App>, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let body = req.read_body_to_vec(MAX_BODY)?;
    let new: NewLink = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => return fail(resp, StatusCode::BAD_REQUEST, &format!("bad JSON: {e}")),
    };
    if !valid_url(&new.url) {
        return fail(
            resp,
            StatusCode::BAD_REQUEST,
            "url must be an absolute http(s) URL",
        );
    }
    let link = match new.code {
        Some(code) if !valid_code(&code) => {
            return fail(
                resp,
                StatusCode::BAD_REQUEST,
                "code must be 1 to 32 letters, digits, '-' or '_'",
            )
        }
        Some(code) => app.store.create(&code, &new.url),
        // A clash of random codes is rare; try a few.
        None => {
            let mut attempt = app.store.create(&new_code(), &new.url);
            for _ in 0..3 {
                if !matches!(attempt, Err(StoreError::Duplicate)) {
                    break;
                }
                attempt = app.store.create(&new_code(), &new.url);
            }
            attempt
        }
    };
    let link = match link {
        Ok(link) => link,
        Err(e) => return store_failed(resp, &e),
    };
    app.events.publish(Kind::Created, &link);

    // Fetch the page title in the background, Go-style: the client has
    // its answer without waiting for someone else's server.
    let bg = app.clone();
    let (code, url) = (link.code.clone(), link.url.clone());
    fibra::go!({
        let Some(title) = bg.titles.fetch(&url) else {
            return;
        };
        match bg.store.set_title(&code, &title) {
            Ok(Some(link)) => {
                bg.cache.invalidate(&code);
                bg.events.publish(Kind::Titled, &link);
            }
            Ok(None) => {} // deleted meanwhile
            Err(e) => tracing::warn!(%code, error = %e, "storing a title failed"),
        }
    });

    let host = req.header("host").unwrap_or("localhost");
    let short_url = format!("http://{host}/{}", link.code);
    resp.header("location", &format!("/api/links/{}", link.code))?;
    json(
        resp,
        StatusCode::CREATED,
        &Created {
            link: &link,
            short_url,
        },
    )
}

/// `GET /api/links`.
pub fn list(app: &Arc<App>, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(50)
        .clamp(1, 200);
    match app.store.list(limit) {
        Ok(links) => json(resp, StatusCode::OK, &links),
        Err(e) => store_failed(resp, &e),
    }
}

/// `GET /api/links/:code`: read through the cache.
pub fn show(app: &Arc<App>, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let code = req.param("code").unwrap_or_default().to_owned();
    match app.cache.get(&app.store, &code) {
        Ok(Some((link, source))) => {
            resp.header("x-cache", source.as_str())?;
            if let Some(node) = app.cache.node_for(&code) {
                resp.header("x-cache-node", &node)?;
            }
            json(resp, StatusCode::OK, &link)
        }
        Ok(None) => fail(resp, StatusCode::NOT_FOUND, "no such link"),
        Err(e) => store_failed(resp, &e),
    }
}

/// `DELETE /api/links/:code`.
pub fn delete(app: &Arc<App>, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let code = req.param("code").unwrap_or_default().to_owned();
    match app.store.delete(&code) {
        Ok(Some(link)) => {
            app.cache.invalidate(&code);
            app.events.publish(Kind::Deleted, &link);
            resp.status(StatusCode::NO_CONTENT);
            Ok(())
        }
        Ok(None) => fail(resp, StatusCode::NOT_FOUND, "no such link"),
        Err(e) => store_failed(resp, &e),
    }
}

/// `GET /:code`: the redirect, read through the cache; the visit is
/// counted in the background.
pub fn redirect(app: &Arc<App>, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let code = req.param("code").unwrap_or_default().to_owned();
    match app.cache.get(&app.store, &code) {
        Ok(Some((link, source))) => {
            resp.status(StatusCode::FOUND)
                .header("location", &link.url)?
                .header("x-cache", source.as_str())?
                .header("cache-control", "no-store")?;
            let bg = app.clone();
            fibra::go!({
                match bg.store.hit(&link.code) {
                    Ok(Some(hits)) => bg.events.publish(Kind::Visited, &Link { hits, ..link }),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(code = %link.code, error = %e, "counting a visit failed")
                    }
                }
            });
            Ok(())
        }
        Ok(None) => fail(resp, StatusCode::NOT_FOUND, "no such link"),
        Err(e) => store_failed(resp, &e),
    }
}

/// `GET /api/stats`.
pub fn stats(app: &Arc<App>, _req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let (hits, misses) = app.cache.counts();
    let value = serde_json::json!({
        "cache": { "hits": hits, "misses": misses, "nodes": app.cache.servers() },
        "events": { "published": app.events.published(), "dropped": app.events.hub.dropped() },
        "live_clients": app.events.hub.len(),
        "rate_limited": app.limiter.rejected(),
        "uptime_secs": app.started.elapsed().as_secs(),
    });
    json(resp, StatusCode::OK, &value)
}

/// `GET /healthz`.
pub fn health(app: &Arc<App>, _req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    match app.store.list(1) {
        Ok(_) => {
            resp.text("ok\n");
            Ok(())
        }
        Err(e) => store_failed(resp, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_urls() {
        let code = new_code();
        assert_eq!(code.len(), 7);
        assert!(valid_code(&code));
        assert_ne!(new_code(), new_code());
        assert!(!valid_code("api"));
        assert!(!valid_code("a b"));
        assert!(valid_url("https://example.com/x?y=1"));
        assert!(!valid_url("ftp://example.com/"));
        assert!(!valid_url("/relative"));
    }
}
