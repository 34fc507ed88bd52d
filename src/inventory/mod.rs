//! What the account looked like, and when: AWS-CLI inventory files (`files`), live collection
//! from the EC2 and SageMaker APIs (`collect`), and the ENI ledger (`ledger`) that keeps every
//! ENI lifetime learned from CloudTrail (`cloudtrail`) and from inventory snapshots.

pub mod cloudtrail;
pub mod collect;
pub mod files;
pub mod history;
pub mod ledger;
pub mod live;
pub mod lookup;

pub use files::*;
