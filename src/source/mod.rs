//! Sources: where flow-log objects come from (local files, S3 listings, SQS notifications).

pub mod layout;
pub mod notification;
