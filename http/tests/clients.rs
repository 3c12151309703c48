//! Real clients against the server: curl (HTTP/1.1, HTTP/1.0, chunked
//! upload, `Expect: 100-continue`) and Python's `http.client`.
//!
//! A client program that is missing fails the test under CI and skips it,
//! saying why, elsewhere (`util::missing_peer`).

mod util;

use std::io::Write;
use std::process::{Command, Stdio};

use fibra_http::{Config, Error, Request, Response};
use util::start;

/// Answers `METHOD PATH VERSION BODY` (body echoed).
fn echo(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let body = req.body_bytes()?;
    resp.text(format!(
        "{} {} {:?} {}",
        req.method(),
        req.uri(),
        req.version(),
        String::from_utf8_lossy(&body)
    ));
    Ok(())
}

fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        util::missing_peer(&format!("`{program}` is not installed"));
    }
    found
}

/// Runs curl with `args`, feeding `stdin`; returns (stdout, stderr).
fn curl(args: &[&str], stdin: &[u8]) -> (String, String) {
    let mut child = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run curl");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_http11_and_keep_alive() {
    if !have("curl") {
        return;
    }
    let s = start(Config::default(), echo);
    let a = format!("http://{}/a?x=1", s.addr);
    let b = format!("http://{}/b", s.addr);
    let (out, err) = curl(&["-v", &a, &b], b"");
    assert_eq!(out, "GET /a?x=1 HTTP/1.1 GET /b HTTP/1.1 ");
    assert!(
        err.contains("Re-using existing connection") || err.contains("left intact"),
        "{err}"
    );
}

#[test]
fn curl_http10() {
    if !have("curl") {
        return;
    }
    let s = start(Config::default(), echo);
    let (out, _) = curl(&["--http1.0", &format!("http://{}/old", s.addr)], b"");
    assert_eq!(out, "GET /old HTTP/1.0 ");
}

#[test]
fn curl_chunked_upload() {
    if !have("curl") {
        return;
    }
    let s = start(Config::default(), echo);
    let body = "x".repeat(100_000);
    let (out, err) = curl(
        &[
            "-v",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "@-",
            &format!("http://{}/up", s.addr),
        ],
        body.as_bytes(),
    );
    assert!(err.contains("Transfer-Encoding: chunked"), "{err}");
    assert_eq!(out, format!("POST /up HTTP/1.1 {body}"));
}

#[test]
fn curl_expect_continue() {
    if !have("curl") {
        return;
    }
    let s = start(Config::default(), echo);
    let (out, err) = curl(
        &[
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "hello",
            &format!("http://{}/exp", s.addr),
        ],
        b"",
    );
    assert!(err.contains("100 Continue"), "{err}");
    assert_eq!(out, "POST /exp HTTP/1.1 hello");
}

#[test]
fn python_http_client() {
    if !have("python3") {
        return;
    }
    let s = start(Config::default(), echo);
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
out = []
c.request("GET", "/one")
r = c.getresponse(); out.append(r.read().decode())
c.request("POST", "/two", body=iter([b"ab", b"cd"]), encode_chunked=True,
          headers={{"Transfer-Encoding": "chunked"}})
r = c.getresponse(); out.append(r.read().decode())
c.request("HEAD", "/three")
r = c.getresponse(); out.append("%d %s %r" % (r.status, r.getheader("Content-Length"), r.read()))
c.request("PUT", "/four", body=b"xyz")
r = c.getresponse(); out.append(r.read().decode())
print("|".join(out))
"#,
        port = s.addr.port()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "GET /one HTTP/1.1 |POST /two HTTP/1.1 abcd|200 21 b''|PUT /four HTTP/1.1 xyz"
    );
}
