//! `EGRESSWATCH_INVENTORY=live` for the Lambda: at cold start the function collects its own
//! region's inventory (the same calls as `inventory collect`) into a scratch folder and loads
//! it, for accounts that would rather grant read-only Describe/List calls than run a collector.
//! The inventory is as fresh as the execution environment: new jobs are attributed from the
//! next cold start on (use an S3 inventory with a scheduled `inventory collect` for tighter
//! freshness).

use std::path::{Path, PathBuf};

use super::collect::{collect, CollectError, Collector};
use super::files::{Inventory, InventoryError};

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("live inventory: {0}")]
    Collect(#[from] CollectError),
    #[error("live inventory: {0}")]
    Load(#[from] InventoryError),
    #[error("live inventory: collector thread: {0}")]
    Join(String),
}

/// Collects the region of `cfg` into `dir` (replaced) and loads it. `endpoint` overrides the
/// EC2/SageMaker endpoints (VPC endpoints, test servers).
pub async fn live_inventory(
    cfg: &aws_config::SdkConfig,
    endpoint: Option<&str>,
    dir: &Path,
) -> Result<Inventory, LiveError> {
    let collector = Collector::new(cfg, endpoint).await?;
    let dir: PathBuf = dir.to_path_buf();
    // The collector's HTTP client blocks; keep it off the runtime's worker threads.
    tokio::task::spawn_blocking(move || {
        // A warm start after a failed cold start must not mix two collections.
        let _ = std::fs::remove_dir_all(&dir);
        let report = collect(&collector, &dir, None)?;
        tracing::info!(region = collector.region(), collected = ?report, "live inventory collected");
        Ok(Inventory::load(&dir)?)
    })
    .await
    .map_err(|e| LiveError::Join(e.to_string()))?
}
