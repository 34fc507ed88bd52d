//! egresswatch: finds Amazon SageMaker traffic that left a VPC through a NAT gateway or an
//! internet gateway instead of PrivateLink or a gateway endpoint, from VPC Flow Logs.
//!
//! Stages (see ARCHITECTURE.md): [`decode`] -> [`enrich`] -> [`detect`] -> [`output`], driven by
//! [`scan`].

pub mod aws;
pub mod baseline;
pub mod decode;
pub mod deliver;
pub mod detect;
pub mod drivers;
pub mod enrich;
/// Fuzz invariants shared by `fuzz/` (cargo-fuzz, nightly) and `tests/fuzz_corpus.rs` (stable).
#[doc(hidden)]
pub mod fuzzing;
pub mod inventory;
pub mod limits;
pub mod logging;
pub mod net;
pub mod output;
pub mod report;
pub mod schema;
pub mod sink;
pub mod source;
pub mod state;
pub mod time;

// The drivers and live collection keep their historical paths (`egresswatch::scan`, ...).
pub use drivers::{demo, lambda, replay, scan, watch};
pub use inventory::collect;
