//! Helpers shared by the integration tests (each test binary compiles this module and uses
//! part of it, hence the `dead_code` allowance).
#![allow(dead_code)]

pub mod account;
pub mod memlimit;
pub mod moto;
pub mod proc;
