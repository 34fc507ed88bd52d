//! The Lambda handler's CloudWatch Logs half: subscription events and Kinesis batches whose
//! records are the flow records themselves (no S3 object to fetch).
//!
//! A subscription event that cannot be read or decoded fails the invocation (CloudWatch Logs
//! retries it); a Kinesis record that cannot is returned in `batchItemFailures` (enable
//! ReportBatchItemFailures on the event source mapping). Findings ids derive from rule, ENI,
//! destination and window, so a re-delivered payload yields the same ids.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::detect::Finding;
use crate::scan::{Engine, ScanOptions};
use crate::source::cwlogs::LogsEvent;

pub async fn handle(
    event: LogsEvent,
    engine: Arc<Engine>,
    opts: &ScanOptions,
    emit: &mut (dyn FnMut(&[Finding]) -> Result<(), String> + Send),
) -> Result<Value, String> {
    let mut failed: Vec<String> = Vec::new();
    let mut inputs = Vec::new();
    // (unit id, input name) to map decode errors back to their record.
    let mut names: Vec<(String, String)> = Vec::new();
    let mut controls = 0u64;
    for (id, unit) in event.units {
        match unit {
            Ok(Some(input)) => {
                names.push((id, input.name()));
                inputs.push(input);
            }
            Ok(None) => controls += 1,
            Err(e) => {
                tracing::error!(record = %id, "unreadable CloudWatch Logs payload: {e}");
                failed.push(id);
            }
        }
    }
    let scan_opts = opts.clone();
    let result = tokio::task::spawn_blocking(move || engine.scan(&inputs, &scan_opts))
        .await
        .map_err(|e| format!("scan task failed: {e}"))?;
    for e in &result.summary.errors {
        for (id, name) in &names {
            if *name == e.file && !failed.contains(id) {
                failed.push(id.clone());
            }
        }
    }
    emit(&result.findings)?;
    let summary = json!({
        "records": result.summary.records,
        "skipped": result.summary.skipped,
        "findings": result.findings.len(),
        "failed_files": result.summary.failed_files,
        "control_messages": controls,
    });
    if event.kinesis {
        return Ok(json!({
            "batchItemFailures": failed.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>(),
            "summary": summary,
        }));
    }
    if !failed.is_empty() {
        return Err(format!(
            "CloudWatch Logs payload could not be read or decoded: {:?}",
            result.summary.errors
        ));
    }
    Ok(json!({ "summary": summary }))
}
