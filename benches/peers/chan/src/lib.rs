//! Shared code of the channel and mutex peer programs: the harness that
//! fibra's `benches/chan.rs` compiles in as well.

pub mod harness;
