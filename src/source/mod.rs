//! Sources: where flow-log objects come from (local files, S3 listings, SQS notifications).

pub mod cwlogs;
pub mod events;
pub mod firehose;
pub mod layout;
pub mod notification;
pub mod securitylake;
