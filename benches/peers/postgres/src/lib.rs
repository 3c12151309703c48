//! What the benchmark programs share: where the test server is.

/// The environment variable `name`, or `default`.
pub fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The connection string for scripts/services' PostgreSQL, as
/// $FIBRA_POSTGRES_TRUST_USER to $FIBRA_POSTGRES_HOST:$FIBRA_POSTGRES_PORT/$FIBRA_POSTGRES_DATABASE.
pub fn url() -> String {
    format!(
        "host={} port={} user={} dbname={}",
        env("FIBRA_POSTGRES_HOST", "127.0.0.1"),
        env("FIBRA_POSTGRES_PORT", "15432"),
        env("FIBRA_POSTGRES_TRUST_USER", "trust_user"),
        env("FIBRA_POSTGRES_DATABASE", "fibra")
    )
}
