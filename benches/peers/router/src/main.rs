//! matchit's lookup over the 130 GET routes of the GitHub API: the peer of
//! fibra's `router` bench (http/benches/router.rs), measured the same way on
//! the same paths. Prints the median of 21 samples as
//!
//! ```text
//! BENCH router_github <ns per lookup> ns
//! ```

use std::hint::black_box;
use std::time::Instant;

const ROUTES: &str = include_str!("../../../../http/tests/router/github_routes.txt");
const SAMPLES: usize = 21;

/// `/repos/:owner/:repo` in matchit's syntax: `/repos/{owner}/{repo}`.
fn to_matchit(route: &str) -> String {
    route
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn main() {
    let routes: Vec<&str> = ROUTES.lines().filter(|l| l.starts_with('/')).collect();
    let mut router = matchit::Router::new();
    for route in &routes {
        router
            .insert(to_matchit(route), true)
            .expect("the GitHub routes do not conflict");
    }
    let paths: Vec<String> = routes.iter().map(|r| r.replace(':', "")).collect();

    let pass = |router: &matchit::Router<bool>| {
        for path in black_box(&paths) {
            let m = black_box(router.at(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(*m.value);
        }
    };

    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed().as_millis() < 200 {
        pass(&router);
        passes += 1;
    }
    let per_sample = (passes / 10).max(1);

    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_sample {
                pass(&router);
            }
            start.elapsed().as_nanos() as f64 / (per_sample as f64 * paths.len() as f64)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!("BENCH router_github {:.2} ns", samples[SAMPLES / 2]);
}
