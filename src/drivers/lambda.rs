//! The AWS Lambda handler (the `bootstrap` binary, feature `lambda`, wires it to the official
//! `lambda_runtime`). Kept here, runtime-free, so it is tested like everything else.
//!
//! SQS batches: every record's objects are scanned together; findings are written as JSON lines
//! to stdout (CloudWatch Logs) and, with a routing file, spooled and delivered; records whose
//! objects could not be read are returned in `batchItemFailures` so SQS retries only those
//! (enable ReportBatchItemFailures on the event source mapping). A record whose object was
//! deleted is not a failure. Direct S3 events: a read failure fails the invocation.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::aws::{self, AwsError};
use crate::decode::Input;
use crate::detect::Finding;
use crate::scan::{Engine, ScanOptions};
use crate::source::events::HistoryEvent;
use crate::source::notification::{self, LambdaEvent, Parsed};

pub use super::lambda_history::{HistoryOutcome, LambdaHistory, DEFAULT_REFRESH};

/// Loads an inventory from a local folder or from `s3://bucket/prefix/` (every `.json` object).
pub async fn load_inventory(
    s3: &aws_sdk_s3::Client,
    location: &str,
) -> Result<crate::enrich::Inventory, String> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut inv = crate::enrich::Inventory::default();
        for o in aws::list_objects(s3, bucket, prefix)
            .await
            .map_err(|e| e.to_string())?
        {
            if !o.key.ends_with(".json") {
                continue;
            }
            let limit = crate::limits::get().max_json_bytes as u64;
            let data = aws::get_object_limited(s3, bucket, &o.key, limit)
                .await
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&data);
            inv.add_json(&format!("s3://{bucket}/{}", o.key), &text)
                .map_err(|e| e.to_string())?;
        }
        Ok(inv)
    } else {
        crate::enrich::Inventory::load(std::path::Path::new(location)).map_err(|e| e.to_string())
    }
}

/// Handles one invocation; `emit` writes (and routes) a batch's findings. CloudTrail and
/// SageMaker events on the queue are acknowledged and logged (no ledger: see
/// [`handle_with_history`]).
pub async fn handle(
    event: Value,
    s3: &aws_sdk_s3::Client,
    engine: Arc<Engine>,
    opts: &ScanOptions,
    emit: &mut (dyn FnMut(&[Finding]) -> Result<(), String> + Send),
) -> Result<Value, String> {
    let mut engine = engine;
    handle_with_history(event, s3, &mut engine, None, opts, emit).await
}

/// [`handle`], with ENI history: the batch's CloudTrail and SageMaker events are applied to
/// the ledger first (their messages fail when it cannot be written), other instances'
/// segments are merged in when due, and `engine` is rebuilt when the ledger changed.
pub async fn handle_with_history(
    event: Value,
    s3: &aws_sdk_s3::Client,
    engine: &mut Arc<Engine>,
    history: Option<&mut LambdaHistory>,
    opts: &ScanOptions,
    emit: &mut (dyn FnMut(&[Finding]) -> Result<(), String> + Send),
) -> Result<Value, String> {
    handle_with_state(event, s3, engine, history, None, opts, emit).await
}

/// [`handle_with_state`] without behavioural baselines.
pub async fn handle_with_state(
    event: Value,
    s3: &aws_sdk_s3::Client,
    engine: &mut Arc<Engine>,
    history: Option<&mut LambdaHistory>,
    windows: Option<&mut crate::state::windows::WindowStage>,
    opts: &ScanOptions,
    emit: &mut (dyn FnMut(&[Finding]) -> Result<(), String> + Send),
) -> Result<Value, String> {
    handle_with_stages(event, s3, engine, history, windows, None, opts, emit).await
}

/// [`handle_with_history`], with open windows (`EGRESSWATCH_STATE`): each object is counted
/// once into the windows persisted in the store (re-read and re-applied when another instance
/// committed first), and only then are the windows' new revisions handed to `emit` (`new` when
/// first raised, then `update`s with cumulative counters; `state::windows`). The invocation
/// fails whole when the state cannot be committed, so SQS retries every record.
///
/// With `baseline` (the behavioural baselines persisted under `baseline/` in the same store,
/// `baseline::stage`), the objects not counted before are absorbed there after the windows,
/// that state is committed too (re-read and re-applied when another instance won), and the
/// anomaly findings go out with the rule findings. Baselines need the windows' path: without
/// `windows` they are not run.
#[allow(clippy::too_many_arguments)]
pub async fn handle_with_stages(
    event: Value,
    s3: &aws_sdk_s3::Client,
    engine: &mut Arc<Engine>,
    mut history: Option<&mut LambdaHistory>,
    windows: Option<&mut crate::state::windows::WindowStage>,
    baseline: Option<&mut crate::baseline::stage::ContinuousStage>,
    opts: &ScanOptions,
    emit: &mut (dyn FnMut(&[Finding]) -> Result<(), String> + Send),
) -> Result<Value, String> {
    // Other instances' ledger segments first, whatever the event's kind.
    let mut hist = HistoryOutcome::default();
    if let Some(h) = history.as_deref_mut() {
        if h.refresh_if_due(&mut hist).await {
            *engine = Arc::new(h.engine());
        }
    }
    // CloudWatch Logs subscriptions and Kinesis records carry the flow records themselves.
    if let Some(units) = crate::source::cwlogs::parse_lambda_event(&event) {
        return super::lambda_logs::handle(units, engine.clone(), opts, emit).await;
    }
    let parsed = notification::parse_lambda_event(&event).map_err(|e| e.to_string())?;
    let mut unrecognised = 0u64;
    let mut events: Vec<(String, HistoryEvent)> = Vec::new();
    // (message id or "", objects)
    let units: Vec<(String, Vec<notification::ObjectRef>)> = match &parsed {
        LambdaEvent::Sqs(records) => records
            .iter()
            .map(|r| {
                if let Some(ev) = crate::source::events::parse(&r.body) {
                    events.push((r.message_id.clone(), ev));
                    return (r.message_id.clone(), Vec::new());
                }
                match notification::parse_body(&r.body) {
                Ok(Parsed::Objects(o)) => (r.message_id.clone(), o),
                Ok(Parsed::Ignored(why)) if why == notification::UNRECOGNISED => {
                    unrecognised += 1;
                    tracing::warn!(message = %r.message_id, "message recognised as nothing (not an S3, SNS, EventBridge or Security Lake notification); acknowledged");
                    (r.message_id.clone(), Vec::new())
                }
                Ok(Parsed::TestEvent | Parsed::Ignored(_)) => (r.message_id.clone(), Vec::new()),
                Err(e) => {
                    tracing::error!(message = %r.message_id, "unreadable record body: {e}");
                    (
                        r.message_id.clone(),
                        vec![notification::ObjectRef {
                            bucket: String::new(),
                            key: String::new(),
                            size: None,
                            sequencer: None,
                            event_time: None,
                            etag: None,
                        }],
                    )
                }
                }
            })
            .collect(),
        LambdaEvent::S3(objects) => vec![(String::new(), objects.clone())],
    };
    let mut failed: Vec<String> = Vec::new();
    // Ledger first, so this batch's objects are attributed with what its events taught.
    match history {
        None if !events.is_empty() => {
            hist.events = events.len() as u64;
            tracing::info!(
                events = events.len(),
                "CloudTrail/SageMaker events on the queue, but no ENI ledger (set EGRESSWATCH_LEDGER); acknowledged"
            );
        }
        None => {}
        Some(h) => {
            let mut changed = false;
            if !events.is_empty() {
                let evs: Vec<&HistoryEvent> = events.iter().map(|(_, e)| e).collect();
                match h.apply(&evs, &mut hist).await {
                    Ok(c) => changed |= c,
                    Err(e) => {
                        tracing::error!(
                            events = events.len(),
                            "ledger: events not persisted ({e}); their messages are returned for redelivery"
                        );
                        hist.not_persisted = events.len() as u64;
                        failed.extend(events.iter().map(|(id, _)| id.clone()));
                    }
                }
            }
            if changed {
                *engine = Arc::new(h.engine());
            }
        }
    }
    let mut inputs = Vec::new();
    for (id, objects) in &units {
        let mut ok = true;
        for o in objects {
            if o.bucket.is_empty() {
                ok = false;
                continue;
            }
            let expect = aws::Expect {
                etag: o.etag.as_deref(),
                size: o.size,
                max_bytes: None,
            };
            match aws::get_object_as(s3, &o.bucket, &o.key, expect).await {
                Ok(data) => inputs.push(Input::Memory {
                    name: format!("s3://{}/{}", o.bucket, o.key),
                    data,
                }),
                Err(AwsError::Missing { .. }) => {
                    tracing::warn!(object = %o.key, "object gone; skipped")
                }
                Err(e) => {
                    tracing::error!("{e}");
                    ok = false;
                }
            }
        }
        if !ok {
            failed.push(id.clone());
        }
    }
    let eng = engine.clone();
    let scan_opts = opts.clone();
    let result = match windows {
        None => tokio::task::spawn_blocking(move || eng.scan(&inputs, &scan_opts))
            .await
            .map_err(|e| format!("scan task failed: {e}"))?,
        Some(w) => {
            let names: Vec<String> = inputs.iter().map(Input::name).collect();
            let ids: Vec<String> = inputs
                .iter()
                .zip(&names)
                .map(|(i, n)| {
                    crate::baseline::persist::object_id(n, &crate::scan::input_len(i).to_string())
                })
                .collect();
            let mut scan_opts = scan_opts;
            // Objects the baselines counted before add no observations.
            scan_opts.baseline = baseline.as_ref().map(|b| b.skip(&ids));
            let (names, ids, parts) = tokio::task::spawn_blocking(move || {
                let parts =
                    crate::scan::run_each(&inputs, &eng.model, &eng.rules, &eng.enrich, &scan_opts);
                (names, ids, parts)
            })
            .await
            .map_err(|e| format!("scan task failed: {e}"))?;
            let mut summary = crate::scan::Summary::default();
            let mut objects = Vec::new();
            let mut observed = Vec::new();
            for (part, id) in parts.into_iter().zip(ids) {
                let fine = part.ok.first().copied().unwrap_or(false);
                summary.absorb(part.summary);
                // A failed object fails its record and is retried whole: not counted now.
                if fine {
                    if let Some(obs) = part.baseline {
                        observed.push((id.clone(), obs));
                    }
                    objects.push((id, part.aggregates));
                }
            }
            let applied = if objects.is_empty() {
                crate::state::windows::Applied::default()
            } else {
                w.apply(&objects, &names, &engine.rules, &engine.model)
                    .await
                    .map_err(|e| format!("window state not committed: {e}"))?
            };
            let mut findings = applied.findings;
            // After the windows: when this commit fails the invocation fails, and the retry
            // re-emits the windows (counted) and counts the objects into the baselines.
            if let Some(b) = baseline {
                if !observed.is_empty() {
                    let a = b
                        .apply(&observed, &names, &engine.model)
                        .await
                        .map_err(|e| format!("baseline state not committed: {e}"))?;
                    findings.extend(a.findings);
                }
                summary.baseline = Some(b.summary());
            }
            summary.findings = findings.len() as u64;
            crate::scan::ScanResult {
                findings,
                summary,
                baseline: None,
            }
        }
    };
    // Objects that were read but could not be decoded fail their record too, so the queue's
    // redrive policy bounds the retries.
    for e in &result.summary.errors {
        for (id, objects) in &units {
            if objects
                .iter()
                .any(|o| e.file == format!("s3://{}/{}", o.bucket, o.key))
                && !failed.contains(id)
            {
                failed.push(id.clone());
            }
        }
    }
    emit(&result.findings)?;
    let summary = json!({
        "records": result.summary.records,
        "findings": result.findings.len(),
        "failed_files": result.summary.failed_files,
        "unrecognised_messages": unrecognised,
        "history": hist,
        "unattributed": result.summary.unattributed,
        "baseline": result.summary.baseline,
    });
    match parsed {
        LambdaEvent::Sqs(_) => Ok(json!({
            "batchItemFailures": failed.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>(),
            "summary": summary,
        })),
        LambdaEvent::S3(_) if !failed.is_empty() || result.summary.failed_files > 0 => {
            Err(format!(
                "objects could not be read or decoded: {:?}",
                result.summary.errors
            ))
        }
        LambdaEvent::S3(_) => Ok(json!({ "summary": summary })),
    }
}
