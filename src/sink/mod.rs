//! Alert delivery to SIEMs.

pub mod format;
