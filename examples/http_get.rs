//! Fetches a URL with fibra's HTTP client and prints the status, the
//! headers and the body, like `curl -i`.
//!
//! ```text
//! cargo run --example http_get -- https://example.com/
//! cargo run --example http_get -- http+unix://%2Frun%2Fapp.sock/health
//! ```

use std::io::{Read, Write};
use std::time::Duration;

fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://example.com/".to_owned());
    let result = fibra::run(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let client = fibra::http::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?;
            let mut resp = client.get(&url).send()?;
            println!("{:?} {}", resp.version(), resp.status());
            for (name, value) in resp.headers() {
                println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
            }
            println!();
            // Stream the body to stdout instead of collecting it.
            let mut out = std::io::stdout().lock();
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = resp.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
