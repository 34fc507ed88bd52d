//! What the account looked like: AWS-CLI inventory files (`files`), live collection from the
//! EC2 and SageMaker APIs (`collect`).

pub mod collect;
pub mod files;
pub mod live;

pub use files::*;
