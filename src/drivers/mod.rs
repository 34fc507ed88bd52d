//! Drivers: the ways a scan is started. `scan` is the pipeline itself (workers, merge,
//! summary) over local inputs; `replay` (S3 by time range), `watch` (SQS), `lambda` (SQS/S3
//! events) and `demo` (bundled samples) feed it objects and acknowledge their sources.

pub mod demo;
pub mod lambda;
pub mod lambda_history;
pub mod lambda_logs;
pub mod replay;
pub mod scan;
pub mod watch;
