//! Static file serving over a real server: content types, HEAD, ranges,
//! conditional requests, directories, large files, and every way of
//! escaping the root we know of.

mod util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use fibra_http::{Config, Router, StaticFiles};
use util::{get, send, start, TestServer};

const SECRET: &str = "TOP SECRET: outside the root";
const HELLO: &str = "hello, static world\n";

/// A scratch directory: `base/secret.txt` outside the root `base/public`.
struct Site {
    base: PathBuf,
    server: TestServer,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn big() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn site() -> Site {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir().join(format!(
        "fibra-static-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let root = base.join("public");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::create_dir_all(root.join("%2e%2e")).unwrap();
    fs::write(base.join("secret.txt"), SECRET).unwrap();
    fs::write(root.join("hello.txt"), HELLO).unwrap();
    fs::write(root.join("style.css"), "body{}").unwrap();
    fs::write(root.join("sub/index.html"), "<h1>sub</h1>").unwrap();
    fs::write(root.join("big.bin"), big()).unwrap();
    std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link-out")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel-link-out")).unwrap();
    std::os::unix::fs::symlink(&base, root.join("dir-link-out")).unwrap();
    std::os::unix::fs::symlink("hello.txt", root.join("link-in")).unwrap();

    let mut router = Router::new();
    router.get("/static/*path", StaticFiles::new(&root).unwrap());
    router.post("/static/*path", StaticFiles::new(&root).unwrap());
    let server = start(Config::default(), router);
    Site { base, server }
}

fn mtime(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn serves_files_with_type_and_validators() {
    let site = site();
    let addr = site.server.addr;
    let r = get(addr, "/static/hello.txt", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), HELLO);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let lm = r.header("last-modified").unwrap();
    let expected = fibra_http::proto::fmt_http_date(mtime(&site.base.join("public/hello.txt")));
    assert_eq!(lm, expected);
    assert!(r.header("etag").is_some());

    let r = get(addr, "/static/style.css", "");
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    let r = get(addr, "/static/big.bin", "");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    // A symbolic link inside the root is fine.
    assert_eq!(get(addr, "/static/link-in", "").text(), HELLO);
    // Percent-decoded names.
    assert_eq!(get(addr, "/static/hell%6F.txt", "").text(), HELLO);
}

#[test]
fn head_has_the_headers_and_no_body() {
    let site = site();
    let addr = site.server.addr;
    for (path, len) in [("hello.txt", HELLO.len()), ("big.bin", big().len())] {
        let r = send(
            addr,
            &format!("HEAD /static/{path} HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));
        assert!(r.header("last-modified").is_some());
        assert!(r.body.is_empty());
    }
    // The connection stays usable after a HEAD (no stray body bytes).
    let mut conn = util::connect(addr);
    std::io::Write::write_all(
        &mut conn,
        b"HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    let first = util::read_response(&mut conn, &mut buf, true).unwrap();
    assert_eq!(first.status, 200);
    let second = util::read_response(&mut conn, &mut buf, false).unwrap();
    assert_eq!(second.text(), HELLO);
}

#[test]
fn other_methods_get_405() {
    let site = site();
    let r = send(
        site.server.addr,
        "POST /static/hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[test]
fn large_files_stream_whole() {
    let site = site();
    let r = get(site.server.addr, "/static/big.bin", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("300000"));
    assert!(r.body == big(), "large file differs");

    // And with curl, as a second opinion on the framing.
    let out = Command::new("curl")
        .args(["-sS", "--fail"])
        .arg(format!("http://{}/static/big.bin", site.server.addr))
        .output();
    match out {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout == big(), "curl saw a different file");
        }
        Err(e) => util::missing_peer(&format!("curl is not runnable: {e}")),
    }
}

#[test]
fn single_ranges() {
    let site = site();
    let addr = site.server.addr;
    let len = HELLO.len();

    let r = get(addr, "/static/hello.txt", "Range: bytes=0-4\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.text(), "hello");
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-4/{len}").as_str())
    );
    assert_eq!(r.header("content-length"), Some("5"));

    let r = get(addr, "/static/hello.txt", "Range: bytes=-6\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.text(), "world\n");

    let r = get(addr, "/static/hello.txt", "Range: bytes=7-\r\n");
    assert_eq!(r.text(), &HELLO[7..]);

    // A range of a large file, across the 64 KiB read chunks.
    let r = get(addr, "/static/big.bin", "Range: bytes=60000-200000\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 60000-200000/300000"));
    assert!(r.body == big()[60000..=200000], "range differs");

    let r = get(addr, "/static/hello.txt", "Range: bytes=1000-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );

    // Several ranges: the whole file.
    let r = get(addr, "/static/hello.txt", "Range: bytes=0-1,3-4\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, HELLO));

    // If-Range with a stale validator: the whole file.
    let r = get(
        addr,
        "/static/hello.txt",
        "Range: bytes=0-4\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!(r.status, 200);
    let etag = get(addr, "/static/hello.txt", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let r = get(
        addr,
        "/static/hello.txt",
        &format!("Range: bytes=0-4\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!(r.status, 206);
}

#[test]
fn conditional_requests_get_304() {
    let site = site();
    let addr = site.server.addr;
    let first = get(addr, "/static/hello.txt", "");
    let lm = first.header("last-modified").unwrap();
    let etag = first.header("etag").unwrap();

    let r = get(
        addr,
        "/static/hello.txt",
        &format!("If-Modified-Since: {lm}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("last-modified"), Some(lm));

    let r = get(
        addr,
        "/static/hello.txt",
        "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT\r\n",
    );
    assert_eq!((r.status, r.text().as_str()), (200, HELLO));

    let r = get(
        addr,
        "/static/hello.txt",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = get(
        addr,
        "/static/hello.txt",
        &format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {lm}\r\n"),
    );
    assert_eq!(r.status, 200, "If-None-Match takes precedence");

    let r = send(
        addr,
        &format!("HEAD /static/hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {lm}\r\n\r\n"),
    );
    assert_eq!(r.status, 304);
}

#[test]
fn directories_serve_their_index() {
    let site = site();
    let addr = site.server.addr;
    let r = get(addr, "/static/sub/", "");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>sub</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get(addr, "/static/sub", "").status, 200);
    assert_eq!(get(addr, "/static/empty/", "").status, 404);
    assert_eq!(get(addr, "/static/missing.txt", "").status, 404);
    assert_eq!(get(addr, "/static/hello.txt/x", "").status, 404);
}

#[test]
fn nothing_escapes_the_root() {
    let site = site();
    let addr = site.server.addr;
    let secret_abs = site.base.join("secret.txt");
    let secret_abs = secret_abs.to_str().unwrap();
    let attempts = [
        "/static/../secret.txt".to_owned(),
        "/static/sub/../../secret.txt".to_owned(),
        "/static/./../secret.txt".to_owned(),
        "/static/%2e%2e/secret.txt".to_owned(),
        "/static/%2E%2E/secret.txt".to_owned(),
        "/static/.%2e/secret.txt".to_owned(),
        "/static/%2e%2e%2fsecret.txt".to_owned(),
        "/static/..%2fsecret.txt".to_owned(),
        "/static/..%2Fsecret.txt".to_owned(),
        "/static/sub%2f..%2f..%2fsecret.txt".to_owned(),
        "/static/%252e%252e/secret.txt".to_owned(),
        "/static/..%5csecret.txt".to_owned(),
        "/static/..\\secret.txt".to_owned(),
        "/static/hello.txt%00../../secret.txt".to_owned(),
        "/static/%00".to_owned(),
        format!("/static/{secret_abs}"),
        format!("/static/{}", secret_abs.replace('/', "%2f")),
        "/static//etc/passwd".to_owned(),
        "/static/%2fetc%2fpasswd".to_owned(),
        "/static/link-out".to_owned(),
        "/static/rel-link-out".to_owned(),
        "/static/dir-link-out/secret.txt".to_owned(),
        "/static/dir-link-out".to_owned(),
        "/static/sub/../../public/../secret.txt".to_owned(),
    ];
    for target in &attempts {
        for method in ["GET", "HEAD"] {
            let r = send(
                addr,
                &format!("{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n"),
            );
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {target} got {}",
                r.status
            );
            assert!(!r.text().contains("TOP SECRET"), "{method} {target} leaked");
            assert!(!r.text().contains("root:"), "{method} {target} leaked");
        }
    }
    // The literal directory named `%2e%2e` (reached by double encoding)
    // stays inside the root.
    assert_eq!(get(addr, "/static/%252e%252e/", "").status, 404);
    assert_eq!(get(addr, "/static/hello.txt", "").text(), HELLO);
}

#[test]
fn a_root_that_is_not_a_directory_is_refused() {
    assert!(StaticFiles::new("/definitely/not/here").is_err());
    let site = site();
    assert!(StaticFiles::new(site.base.join("secret.txt")).is_err());
}
