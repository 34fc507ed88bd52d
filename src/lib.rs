//! egresswatch: finds Amazon SageMaker traffic that left a VPC through a NAT gateway or an
//! internet gateway instead of PrivateLink or a gateway endpoint, from VPC Flow Logs.
//!
//! Stages (see ARCHITECTURE.md): [`decode`] -> [`enrich`] -> [`detect`] -> [`output`], driven by
//! [`scan`].

pub mod aws;
pub mod collect;
pub mod decode;
pub mod deliver;
pub mod demo;
pub mod detect;
pub mod enrich;
pub mod lambda;
pub mod net;
pub mod output;
pub mod replay;
pub mod scan;
pub mod schema;
pub mod sink;
pub mod source;
pub mod time;
pub mod watch;
