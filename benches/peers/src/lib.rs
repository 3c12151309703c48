//! Shared pieces of the peer benchmark programs `rt_tokio` and `rt_may`.

pub mod harness;
