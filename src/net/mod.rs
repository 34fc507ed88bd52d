//! Address handling shared by the decoder and the enricher: one 128-bit key for IPv4 and IPv6,
//! and a longest-prefix-match map built once and queried by binary search.

pub mod fxhash;
pub mod ip;
pub mod rangemap;

pub use fxhash::FastMap;
pub use ip::{IpKey, NO_IP};
pub use rangemap::{RangeMap, RangeMapBuilder};
