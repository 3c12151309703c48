//! RouteTable lookup over the 130 GET routes of the GitHub API.
//!
//! Registers every route with `RouteTable::route("GET", ..)`, then times
//! `RouteTable::lookup("GET", path)` for each route's template with every
//! `:name` replaced by `name`, the same paths the matchit peer
//! (benches/peers/router) looks up. Prints the median of 21 samples as
//!
//! ```text
//! BENCH router_github <ns per lookup> ns
//! ```
//!
//! Run alone with `cargo bench -p fibra-http --bench router`, or side by side
//! with matchit with `scripts/bench-router`.

use std::hint::black_box;
use std::time::Instant;

use fibra_http::router::{Lookup, RouteTable};

const ROUTES: &str = include_str!("../tests/router/github_routes.txt");
const SAMPLES: usize = 21;

fn main() {
    let routes: Vec<&str> = ROUTES.lines().filter(|l| l.starts_with('/')).collect();
    let mut router = RouteTable::new();
    for route in &routes {
        router
            .route("GET", route, true)
            .expect("the GitHub routes do not conflict");
    }
    let paths: Vec<String> = routes.iter().map(|r| r.replace(':', "")).collect();

    let pass = |router: &RouteTable<bool>| {
        for path in black_box(&paths) {
            match black_box(router.lookup(black_box("GET"), path)) {
                Lookup::Found(m) => assert!(*m.value),
                other => panic!("{path}: {other:?}"),
            }
        }
    };

    // Warm up, and size a sample to about 20 ms.
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
