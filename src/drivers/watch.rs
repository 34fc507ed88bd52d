//! Continuous mode: long-poll an SQS queue of S3 notifications, scan the new objects, hand the
//! findings on (JSON lines and/or the routing spools), and only then delete the messages.
//!
//! Guarantees: a message is deleted after its objects' findings were written (and, with
//! `--route`, spooled for every selected sink). While a batch is processed, a heartbeat extends
//! the messages' visibility so a big object is not handed to another worker. SQS errors back off
//! exponentially. An object that keeps failing is left to the queue's redrive policy (DLQ) after
//! `max_receives` attempts; a deleted object's message is deleted. `s3:TestEvent` is skipped.
//! SIGTERM or Ctrl-C stops receiving and lets the batch in flight finish (up to a deadline).
//! Several workers on one queue share the work through SQS alone.
//!
//! Findings are windows kept open across batches (`state::windows`): a window split over
//! several batches is emitted once as `activity: new`, revision 1, then as `update`s with the
//! next revision and cumulative counters. Per batch: scan each object apart, absorb the objects
//! not counted before, commit the window state (`--state`, re-read and re-applied on conflict
//! with another writer), hand the findings on, and only then delete the messages; then windows
//! whose end plus `--lateness` the event-time watermark passed are closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName,
};

use crate::aws::{self, AwsError};
use crate::decode::Input;
use crate::deliver::retry::Backoff;
use crate::detect::Finding;
use crate::scan::{Engine, ScanOptions, Summary};
use crate::source::notification::{self, Parsed};

#[derive(Debug, Clone)]
pub struct WatchArgs {
    pub queue_url: String,
    /// Messages per receive (1..=10).
    pub batch: i32,
    /// Long-poll wait (seconds, 0..=20).
    pub wait_secs: i32,
    /// Visibility timeout applied while a batch is processed and refreshed by the heartbeat.
    pub visibility_secs: i32,
    /// Receives after which a failing message is left to the redrive policy.
    pub max_receives: u32,
    /// Exit after this long without messages (tests, one-shot catch-up runs).
    pub idle_exit: Option<Duration>,
    /// Exit after this many messages were handled.
    pub max_messages: Option<usize>,
    /// Parallel downloads.
    pub concurrency: usize,
    /// How long the batch in flight may take after SIGTERM.
    pub shutdown_grace: Duration,
    /// Log the metrics as a JSON line this often.
    pub report_every: Option<Duration>,
    /// Latest Prometheus text, for an exporter thread.
    pub metrics: Option<std::sync::Arc<std::sync::Mutex<String>>>,
    /// Reload the inventory (folder or `s3://bucket/prefix/`) this often, between batches.
    pub reload: Option<Reload>,
    /// ENI history: CloudTrail and SageMaker events on the queue update it at once.
    pub history: Option<WatchHistory>,
    /// Where the open windows persist (`--state`); in memory only without it.
    pub state: Option<crate::state::Store>,
    /// Allowed lateness (seconds of event time after a window's end) before it closes.
    pub lateness: i64,
    /// The behavioural baselines (EW-101..105), `None` with `--no-baseline` or when the pack
    /// turns them off; persisted under `baseline/` in `state`, in memory without it.
    pub baseline: Option<crate::baseline::BaselineConfig>,
}

/// What watch keeps to attribute ENIs born after its inventory was taken.
#[derive(Debug, Clone)]
pub struct WatchHistory {
    /// The inventory the engine was built from (its `history` is the ledger in memory).
    pub inventory: crate::inventory::Inventory,
    /// Where learned entries are persisted (`--ledger`); in memory only without it.
    pub store: Option<crate::state::Store>,
    pub rules: crate::detect::RuleSet,
    pub scope: crate::detect::Scope,
}

/// Findings emitted while their ENI was unknown, kept (bounded) to be emitted again with the
/// same id once a ledger update attributes the ENI.
const MAX_PENDING: usize = 10_000;

/// How `watch` rebuilds its engine from a fresh inventory.
#[derive(Debug, Clone)]
pub struct Reload {
    pub location: String,
    pub every: Duration,
    pub rules: crate::detect::RuleSet,
    pub scope: crate::detect::Scope,
}

/// Serves the latest metrics as Prometheus text on 127.0.0.1:`port` (or the given address).
pub fn serve_metrics(
    addr: &str,
    text: std::sync::Arc<std::sync::Mutex<String>>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(addr)?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let body = text.lock().map(|g| g.clone()).unwrap_or_default();
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(())
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct WatchStats {
    pub messages: u64,
    pub deleted: u64,
    pub test_events: u64,
    pub ignored: u64,
    /// Messages recognised as nothing (also counted in `ignored`), each warned with its id.
    pub unrecognised: u64,
    pub objects: u64,
    pub missing_objects: u64,
    pub failed_objects: u64,
    pub poison_messages: u64,
    pub findings: u64,
    pub receive_errors: u64,
    /// CloudTrail / SageMaker EventBridge events received, ledger updates applied, findings
    /// emitted again once their ENI was attributed, and late findings not kept (bound).
    pub history_events: u64,
    pub ledger_updates: u64,
    pub reattributed: u64,
    pub pending_dropped: u64,
    /// Objects delivered again after they were counted (added nothing; their windows were
    /// emitted again at their current revision), windows closed, and state generations written.
    pub duplicate_objects: u64,
    pub windows_closed: u64,
    /// Aggregates of new windows not opened because `max_keys` windows were open (the state's
    /// cumulative count; `EGRESSWATCH_MAX_KEYS` / `--max-keys`).
    pub windows_over_limit: u64,
    pub state_commits: u64,
    /// Baseline state generations written, and anomaly findings kept for the next batch
    /// because they could not be handed on.
    pub baseline_commits: u64,
    pub anomalies_held: u64,
    /// The behavioural baselines' counters (profiles, learning, anomalies), when they run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::baseline::BaselineSummary>,
    /// Set when the window state could not be opened (watch exits at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_error: Option<String>,
    /// Batches that could not be finished because a local write failed (window or baseline
    /// state, ledger, findings output or spool: disk full, read-only folder), and the messages
    /// still unacknowledged because of that when watch stopped (they stay on the queue and are
    /// redelivered; the CLI exits 2 when this is not 0).
    pub failed_batches: u64,
    pub unfinished_messages: u64,
    pub summary: Summary,
    /// Milliseconds from the S3 event to the findings being handed on (end to end).
    pub latency_event_to_emit_ms: Latency,
    /// Milliseconds from SQS accepting the message to this worker receiving it.
    pub latency_queue_wait_ms: Latency,
    /// Milliseconds to process one received batch (download, scan, emit).
    pub latency_batch_ms: Latency,
    /// Milliseconds to decode, enrich and detect one object.
    pub latency_object_ms: Latency,
}

/// A latency distribution (HDR histogram) reported as quantiles.
#[derive(Debug, Clone)]
pub struct Latency(hdrhistogram::Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(
            hdrhistogram::Histogram::new_with_bounds(1, 7 * 86_400_000, 3)
                .expect("constant histogram bounds are valid"),
        )
    }
}

impl Latency {
    pub fn record(&mut self, ms: i64) {
        let _ = self.0.record(ms.clamp(1, 7 * 86_400_000) as u64);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn quantile(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.value_at_quantile(q)
        }
    }
}

impl serde::Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("count", &self.count())?;
        m.serialize_entry("p50", &self.quantile(0.5))?;
        m.serialize_entry("p99", &self.quantile(0.99))?;
        m.serialize_entry("max", &if self.0.is_empty() { 0 } else { self.0.max() })?;
        m.end()
    }
}

impl WatchStats {
    /// Prometheus text exposition of the counters and latency quantiles.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("messages", self.messages),
            ("messages_deleted", self.deleted),
            ("test_events", self.test_events),
            ("objects", self.objects),
            ("objects_missing", self.missing_objects),
            ("objects_failed", self.failed_objects),
            ("poison_messages", self.poison_messages),
            ("findings", self.findings),
            ("receive_errors", self.receive_errors),
            ("records", self.summary.records),
            ("bytes", self.summary.bytes_read),
            (
                "anomalies",
                self.baseline.as_ref().map_or(0, |b| b.anomalies),
            ),
            ("baseline_commits", self.baseline_commits),
        ];
        for (name, v) in counters {
            out.push_str(&format!(
                "# TYPE egresswatch_{name}_total counter\negresswatch_{name}_total {v}\n"
            ));
        }
        for (name, l) in [
            ("event_to_emit", &self.latency_event_to_emit_ms),
            ("queue_wait", &self.latency_queue_wait_ms),
            ("batch", &self.latency_batch_ms),
            ("object", &self.latency_object_ms),
        ] {
            out.push_str(&format!("# TYPE egresswatch_{name}_ms summary\n"));
            for q in [0.5, 0.9, 0.99] {
                out.push_str(&format!(
                    "egresswatch_{name}_ms{{quantile=\"{q}\"}} {}\n",
                    l.quantile(q)
                ));
            }
            out.push_str(&format!("egresswatch_{name}_ms_count {}\n", l.count()));
        }
        out
    }
}

/// What the caller does with each batch's findings before the messages are deleted. Returning
/// an error keeps the messages (they come back after the visibility timeout).
pub type Emit<'a> = dyn FnMut(&[Finding]) -> Result<(), String> + Send + 'a;

struct Msg {
    receipt: String,
    id: String,
    receives: u32,
    objects: Vec<notification::ObjectRef>,
}

/// How often the heartbeat extends visibility: a third of the timeout, so two extensions can
/// fail before a message reappears.
pub fn heartbeat_period(visibility_secs: i32) -> Duration {
    Duration::from_secs((visibility_secs.max(3) as u64) / 3)
}

/// Calls `extend` every `period` until `stop` is set. Generic over the extension so its timing
/// is tested with tokio's paused clock.
pub async fn heartbeat_loop<F, Fut>(period: Duration, stop: Arc<AtomicBool>, mut extend: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        tokio::time::sleep(period).await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        extend().await;
    }
}

/// Extends the visibility of `receipts` to `visibility` seconds from now, ten messages per
/// call (one call per message let a slow queue endpoint stretch a round past the timeout, and
/// another worker got the message). Returns how many were extended; failures are logged.
pub async fn extend_visibility(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    receipts: &[String],
    visibility: i32,
) -> u64 {
    let mut extended = 0;
    for chunk in receipts.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(format!("h{i}"))
                    .receipt_handle(r)
                    .visibility_timeout(visibility)
                    .build()
                    .ok()
            })
            .collect();
        match sqs
            .change_message_visibility_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(r) => {
                extended += r.successful().len() as u64;
                for f in r.failed() {
                    tracing::warn!(
                        entry = f.id(),
                        "visibility heartbeat failed for one message: {}",
                        f.message().unwrap_or("")
                    );
                }
            }
            Err(e) => tracing::warn!("visibility heartbeat failed: {}", DisplayErrorContext(&e)),
        }
    }
    extended
}

async fn heartbeat(
    sqs: aws_sdk_sqs::Client,
    queue: String,
    receipts: Vec<String>,
    visibility: i32,
    stop: Arc<AtomicBool>,
) {
    heartbeat_loop(heartbeat_period(visibility), stop, || async {
        let n = extend_visibility(&sqs, &queue, &receipts, visibility).await;
        tracing::debug!(n, of = receipts.len(), "visibility extended");
    })
    .await
}

pub async fn watch(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    engine: Arc<Engine>,
    args: &WatchArgs,
    opts: &ScanOptions,
    emit: &mut Emit<'_>,
    shutdown: Arc<AtomicBool>,
) -> WatchStats {
    let mut stats = WatchStats::default();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(60));
    let mut idle_since = Instant::now();
    let mut last_report = Instant::now();
    let mut engine = engine;
    let mut history = args.history.clone();
    let mut pending: std::collections::HashMap<String, Vec<Finding>> = Default::default();
    let mut pending_n = 0usize;
    let mut windows = match &args.state {
        None => crate::state::windows::WindowStage::memory(args.lateness, opts.detect),
        Some(store) => {
            match crate::state::windows::WindowStage::open(
                store.clone(),
                args.lateness,
                opts.detect,
            )
            .await
            {
                Ok(w) => {
                    tracing::info!(
                        state = %w.location().unwrap_or_default(),
                        open = w.windows.open_len(),
                        "window state loaded"
                    );
                    w
                }
                Err(e) => {
                    tracing::error!("window state: {e}");
                    stats.state_error = Some(e);
                    return stats;
                }
            }
        }
    };
    let mut baseline = match &args.baseline {
        None => None,
        Some(cfg) => {
            let opened = match &args.state {
                None => crate::baseline::stage::ContinuousStage::memory(cfg.clone()),
                Some(store) => {
                    crate::baseline::stage::ContinuousStage::open(store.clone(), cfg.clone()).await
                }
            };
            match opened {
                Ok(b) => {
                    tracing::info!(
                        state = %b.location().unwrap_or_default(),
                        objects = b.engine.state.seen_objects.len(),
                        "baseline state loaded"
                    );
                    stats.baseline = Some(b.summary());
                    Some(b)
                }
                Err(e) => {
                    tracing::error!("baseline state: {e}");
                    stats.state_error = Some(format!("baseline state: {e}"));
                    return stats;
                }
            }
        }
    };
    // Anomaly findings of a batch whose emit failed: its objects are counted, so they are
    // handed on with the next batch.
    let mut held: Vec<Finding> = Vec::new();
    // Ids of messages left on the queue because a local write failed; a message leaves the set
    // once a later delivery of it is finished. Watch goes on (space may come back), but it
    // must not end as if everything had been handled.
    let mut unfinished: std::collections::HashSet<String> = Default::default();
    // The first reload happens before the first receive, so an S3-only inventory is in place.
    let mut last_reload: Option<Instant> = None;
    while !shutdown.load(Ordering::SeqCst) {
        if args
            .max_messages
            .is_some_and(|m| stats.messages as usize >= m)
        {
            break;
        }
        if let Some(r) = args
            .reload
            .as_ref()
            .filter(|r| last_reload.is_none_or(|t| t.elapsed() >= r.every))
        {
            last_reload = Some(Instant::now());
            match crate::lambda::load_inventory(s3, &r.location).await {
                Ok(mut inv) => {
                    if let Some(h) = history.as_mut() {
                        // The reload is a snapshot: diffed into the ledger, so ENIs it shows
                        // are remembered after they are deleted.
                        let now = crate::time::now_secs();
                        inv.history = std::mem::take(&mut h.inventory.history);
                        inv.eni_grace = h.inventory.eni_grace;
                        let owners = crate::inventory::history::owners(&inv, now);
                        let seg = crate::inventory::ledger::diff_snapshot(
                            &inv.history,
                            &inv,
                            &owners,
                            now,
                            &r.location,
                        );
                        if let Some(st) = &h.store {
                            if let Err(e) = seg.write(st).await {
                                tracing::error!("ledger: snapshot not written: {e}");
                            }
                        }
                        for e in seg.entries {
                            inv.history.add(e);
                        }
                        h.inventory = inv.clone();
                    }
                    engine = Arc::new(Engine::new(&inv, &r.rules, r.scope, None));
                    tracing::info!(location = %r.location, enis = engine.model.enis.len(), "inventory reloaded");
                }
                // Keep the previous inventory: a bad upload must not blind the detector.
                Err(e) => {
                    tracing::error!(location = %r.location, "inventory reload failed, keeping the previous one: {e}")
                }
            }
        }
        if args.idle_exit.is_some_and(|d| idle_since.elapsed() >= d) {
            tracing::info!("idle; exiting");
            break;
        }
        let resp = sqs
            .receive_message()
            .queue_url(&args.queue_url)
            .max_number_of_messages(args.batch.clamp(1, 10))
            .wait_time_seconds(args.wait_secs.clamp(0, 20))
            .visibility_timeout(args.visibility_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => {
                backoff.reset();
                r
            }
            Err(e) => {
                stats.receive_errors += 1;
                let wait = backoff.next(None);
                tracing::warn!(
                    wait_ms = wait.as_millis() as u64,
                    "SQS receive failed: {}",
                    DisplayErrorContext(&e)
                );
                tokio::time::sleep(wait).await;
                // A failed receive says nothing about the queue being empty: idleness is
                // counted from the last receive attempt that could have seen messages, so an
                // SQS outage or throttling (and its backoff) longer than --idle-exit does not
                // end a catch-up run with messages waiting.
                idle_since = Instant::now();
                continue;
            }
        };
        let messages = resp.messages();
        if messages.is_empty() {
            continue;
        }
        idle_since = Instant::now();
        let batch_started = Instant::now();
        let now_ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        };
        let mut batch: Vec<Msg> = Vec::new();
        let mut to_delete: Vec<(String, String)> = Vec::new();
        let mut learned = crate::inventory::cloudtrail::TrailReader::with_seen(
            history
                .as_ref()
                .map(|h| h.inventory.history.seen_events.clone())
                .unwrap_or_default(),
        );
        let mut event_msgs: Vec<(String, String)> = Vec::new();
        for m in messages {
            stats.messages += 1;
            let (Some(receipt), Some(id)) = (m.receipt_handle(), m.message_id()) else {
                continue;
            };
            if let Some(sent) = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|v| v.parse::<i64>().ok())
            {
                stats.latency_queue_wait_ms.record(now_ms() - sent);
            }
            let receives = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            if let Some(ev) = crate::source::events::parse(m.body().unwrap_or("")) {
                stats.history_events += 1;
                match ev {
                    crate::source::events::HistoryEvent::CloudTrail { detail, .. } => {
                        learned.event(&detail, "eventbridge");
                    }
                    crate::source::events::HistoryEvent::SageMaker {
                        id,
                        detail_type,
                        detail,
                    } => {
                        if let Some(f) =
                            crate::inventory::cloudtrail::state_change(&detail_type, &detail, &id)
                        {
                            learned
                                .entries
                                .push(crate::inventory::ledger::Entry::Resource(f));
                        }
                    }
                }
                event_msgs.push((id.to_string(), receipt.to_string()));
                continue;
            }
            match notification::parse_body(m.body().unwrap_or("")) {
                Ok(Parsed::Objects(objects)) => batch.push(Msg {
                    receipt: receipt.to_string(),
                    id: id.to_string(),
                    receives,
                    objects,
                }),
                Ok(Parsed::TestEvent) => {
                    stats.test_events += 1;
                    to_delete.push((id.to_string(), receipt.to_string()));
                }
                Ok(Parsed::Ignored(why)) => {
                    stats.ignored += 1;
                    if why == notification::UNRECOGNISED {
                        stats.unrecognised += 1;
                        tracing::warn!(message = id, "message recognised as nothing (not an S3, SNS, EventBridge or Security Lake notification); deleted");
                    } else {
                        tracing::info!(message = id, "ignored notification: {why}");
                    }
                    to_delete.push((id.to_string(), receipt.to_string()));
                }
                Err(e) => {
                    // Unparseable bodies never become parseable: leave them to the redrive policy.
                    tracing::error!(
                        message = id,
                        receives,
                        "unreadable message body ({e}); left for the queue's redrive policy"
                    );
                    stats.poison_messages += 1;
                }
            }
        }

        // Ledger updates first, so this batch's objects are attributed with them; their
        // messages are deleted only once the entries are persisted.
        let mut relearned: Vec<Finding> = Vec::new();
        if !event_msgs.is_empty() {
            match history.as_mut() {
                None => {
                    tracing::info!(
                        events = event_msgs.len(),
                        "CloudTrail/SageMaker events on the queue, but watch runs without ENI history (pass --ledger); deleted"
                    );
                    to_delete.append(&mut event_msgs);
                }
                Some(h) => {
                    let seg = crate::inventory::ledger::Segment {
                        entries: std::mem::take(&mut learned.entries),
                    };
                    let written = match &h.store {
                        Some(st) => seg.write(st).await.map(|_| ()),
                        None => Ok(()),
                    };
                    match written {
                        Err(e) => {
                            tracing::error!(
                                "ledger: events not persisted ({e}); their messages will be redelivered"
                            );
                            stats.failed_batches += 1;
                            unfinished.extend(event_msgs.iter().map(|(id, _)| id.clone()));
                        }
                        Ok(()) => {
                            for (id, _) in &event_msgs {
                                unfinished.remove(id);
                            }
                            let mut enis = std::collections::HashSet::new();
                            for e in seg.entries {
                                if let crate::inventory::ledger::Entry::Eni(l) = &e {
                                    enis.insert(l.eni.clone());
                                }
                                h.inventory.history.add(e);
                            }
                            engine = Arc::new(Engine::new(&h.inventory, &h.rules, h.scope, None));
                            stats.ledger_updates += 1;
                            to_delete.append(&mut event_msgs);
                            for eni in enis {
                                for mut f in pending.remove(&eni).unwrap_or_default() {
                                    pending_n -= 1;
                                    if crate::detect::findings::reattribute(&mut f, &engine.model) {
                                        relearned.push(f);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if !relearned.is_empty() {
            stats.reattributed += relearned.len() as u64;
            tracing::info!(
                findings = relearned.len(),
                "findings attributed late, emitted again with the same ids"
            );
            if let Err(e) = emit(&relearned) {
                tracing::error!("late attributions could not be handed on: {e}");
            }
        }

        let stop_hb = Arc::new(AtomicBool::new(false));
        let hb = tokio::spawn(heartbeat(
            sqs.clone(),
            args.queue_url.clone(),
            batch.iter().map(|m| m.receipt.clone()).collect(),
            args.visibility_secs,
            stop_hb.clone(),
        ));

        // Download every object of the batch.
        let objects: Vec<(usize, notification::ObjectRef)> = batch
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.objects.iter().cloned().map(move |o| (i, o)))
            .collect();
        let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (n, (mi, o)) in objects.iter().enumerate() {
            let (s3, o, sem, mi) = (s3.clone(), o.clone(), sem.clone(), *mi);
            set.spawn(async move {
                let _p = sem.acquire_owned().await;
                (
                    n,
                    mi,
                    o.bucket.clone(),
                    o.key.clone(),
                    aws::get_object_as(
                        &s3,
                        &o.bucket,
                        &o.key,
                        aws::Expect {
                            etag: o.etag.as_deref(),
                            size: o.size,
                            max_bytes: None,
                        },
                    )
                    .await,
                )
            });
        }
        let mut msg_ok = vec![true; batch.len()];
        let mut got: Vec<(usize, usize, Input)> = Vec::new();
        while let Some(r) = set.join_next().await {
            let Ok((n, mi, bucket, key, res)) = r else {
                continue;
            };
            stats.objects += 1;
            match res {
                Ok(data) => got.push((
                    n,
                    mi,
                    Input::Memory {
                        name: format!("s3://{bucket}/{key}"),
                        data,
                    },
                )),
                Err(AwsError::Missing { .. }) => {
                    stats.missing_objects += 1;
                    tracing::warn!(object = %format!("s3://{bucket}/{key}"), "object gone before it was read; message will be deleted");
                }
                Err(e) => {
                    stats.failed_objects += 1;
                    msg_ok[mi] = false;
                    tracing::error!("{e}");
                }
            }
        }
        got.sort_by_key(|g| g.0);
        let owners: Vec<usize> = got.iter().map(|g| g.1).collect();
        let inputs: Vec<Input> = got.into_iter().map(|g| g.2).collect();
        let names: Vec<String> = inputs.iter().map(Input::name).collect();
        let ids: Vec<String> = inputs
            .iter()
            .zip(&names)
            .map(|(i, n)| {
                crate::baseline::persist::object_id(n, &crate::scan::input_len(i).to_string())
            })
            .collect();
        let eng = engine.clone();
        let mut scan_opts = opts.clone();
        // Objects the baselines counted before add no observations.
        scan_opts.baseline = baseline.as_ref().map(|b| b.skip(&ids));
        let scanned = tokio::task::spawn_blocking(move || {
            let parts =
                crate::scan::run_each(&inputs, &eng.model, &eng.rules, &eng.enrich, &scan_opts);
            (names, ids, parts)
        })
        .await;
        let (names, ids, parts) = match scanned {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("scan task failed: {e}");
                stop_hb.store(true, Ordering::SeqCst);
                hb.abort();
                continue;
            }
        };
        let mut summary = Summary::default();
        let mut ok = Vec::with_capacity(parts.len());
        let mut objects = Vec::new();
        let mut observed = Vec::new();
        for (part, id) in parts.into_iter().zip(ids) {
            let fine = part.ok.first().copied().unwrap_or(false);
            for ms in part.millis {
                stats.latency_object_ms.record(ms as i64);
            }
            summary.absorb(part.summary);
            // An object that failed is retried whole: none of it is counted now.
            if fine {
                if let Some(obs) = part.baseline {
                    observed.push((id.clone(), obs));
                }
                objects.push((id, part.aggregates));
            }
            ok.push(fine);
        }
        for (i, fine) in ok.iter().enumerate() {
            if !fine {
                msg_ok[owners[i]] = false;
                stats.failed_objects += 1;
            }
        }
        // The windows' state is committed before anything is handed on, and the messages are
        // deleted only after that: a crash in between re-delivers objects already counted,
        // which add nothing and re-emit their windows' current revision.
        let applied = if objects.is_empty() {
            Ok(crate::state::windows::Applied::default())
        } else {
            windows
                .apply(&objects, &names, &engine.rules, &engine.model)
                .await
        };
        let applied = match applied {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(
                    "window state not committed ({e}); the batch's messages will be redelivered"
                );
                stats.failed_batches += 1;
                unfinished.extend(batch.iter().map(|m| m.id.clone()));
                stop_hb.store(true, Ordering::SeqCst);
                hb.abort();
                continue;
            }
        };
        stats.duplicate_objects += applied.duplicates as u64;
        stats.windows_closed += applied.closed as u64;
        stats.windows_over_limit = windows.windows.over_limit;
        stats.state_commits += u64::from(applied.generation.is_some());
        let mut findings = applied.findings;
        // Then the baselines' state (after the windows: a batch redelivered because this
        // commit failed re-emits its windows, and its objects are new to the baselines).
        if let Some(b) = baseline.as_mut() {
            let done = if observed.is_empty() {
                Ok(crate::baseline::stage::Applied::default())
            } else {
                b.apply(&observed, &names, &engine.model).await
            };
            match done {
                Ok(a) => {
                    stats.baseline_commits += u64::from(a.generation.is_some());
                    stats.baseline = Some(b.summary());
                    findings.append(&mut held);
                    findings.extend(a.findings);
                }
                Err(e) => {
                    tracing::error!(
                        "baseline state not committed ({e}); the batch's messages will be redelivered"
                    );
                    stats.failed_batches += 1;
                    unfinished.extend(batch.iter().map(|m| m.id.clone()));
                    stop_hb.store(true, Ordering::SeqCst);
                    hb.abort();
                    continue;
                }
            }
        }
        stats.summary.absorb(summary);
        stats.findings += findings.len() as u64;
        let emitted = emit(&findings);
        if history.is_some() {
            for f in &findings {
                // ENIs no source knows yet (attributed from the flow-log context at best),
                // and records outside a known lifetime.
                let late = !engine.model.eni_by_id.contains_key(f.eni.as_str())
                    || f.attribution.as_ref().is_some_and(|a| {
                        a.confidence == crate::detect::findings::Confidence::Unknown
                    });
                if late {
                    // Only the latest revision of an id is kept.
                    let list = pending.entry(f.eni.clone()).or_default();
                    if let Some(old) = list.iter_mut().find(|p| p.id == f.id) {
                        *old = f.clone();
                        continue;
                    }
                }
                if late && pending_n < MAX_PENDING {
                    pending.entry(f.eni.clone()).or_default().push(f.clone());
                    pending_n += 1;
                } else if late {
                    stats.pending_dropped += 1;
                }
            }
        }
        stop_hb.store(true, Ordering::SeqCst);
        hb.abort();
        if emitted.is_ok() {
            let t = now_ms();
            for m in &batch {
                for o in &m.objects {
                    if let Some(ev) = o.event_time {
                        stats.latency_event_to_emit_ms.record(t - ev);
                    }
                }
            }
        }
        stats
            .latency_batch_ms
            .record(batch_started.elapsed().as_millis() as i64);
        if let Some(every) = args.report_every {
            if last_report.elapsed() >= every {
                last_report = Instant::now();
                tracing::info!(metrics = %serde_json::to_string(&stats).unwrap_or_default(), "watch metrics");
            }
        }
        if let Some(shared) = &args.metrics {
            if let Ok(mut g) = shared.lock() {
                *g = stats.prometheus();
            }
        }
        if let Err(e) = emitted {
            // The baselines counted the batch: a redelivery adds nothing to them, so their
            // findings go with the next batch.
            held.extend(findings.iter().filter(|f| f.anomaly.is_some()).cloned());
            stats.anomalies_held += held.len() as u64;
            tracing::error!(
                "findings could not be handed on ({e}); messages are kept and will be redelivered"
            );
            stats.failed_batches += 1;
            unfinished.extend(batch.iter().map(|m| m.id.clone()));
            continue;
        }
        for (m, fine) in batch.iter().zip(&msg_ok) {
            if *fine {
                unfinished.remove(&m.id);
                to_delete.push((m.id.clone(), m.receipt.clone()));
            } else if m.receives >= args.max_receives {
                stats.poison_messages += 1;
                tracing::error!(message = %m.id, receives = m.receives, "object keeps failing; leaving the message to the queue's redrive policy (dead-letter queue)");
            } else {
                tracing::warn!(message = %m.id, receives = m.receives, "object failed; the message will be retried after its visibility timeout");
            }
        }
        stats.deleted += delete(sqs, &args.queue_url, &to_delete).await;
    }
    stats.unfinished_messages = unfinished.len() as u64;
    stats
}

/// Rounds of `DeleteMessageBatch` for entries that failed on the server's side (throttling,
/// internal errors): a message left undeleted comes back after its visibility timeout and is
/// processed again, which is safe (objects are counted once) but costs a re-read.
const DELETE_ROUNDS: u32 = 3;

/// Deletes `items` (message id, receipt handle), ten per call. Entries the queue failed on its
/// side are sent again (up to [`DELETE_ROUNDS`] calls, with backoff); entries it refused as the
/// sender's fault (an expired receipt handle) are not, and those messages are redelivered.
/// Returns how many were deleted.
async fn delete(sqs: &aws_sdk_sqs::Client, queue: &str, items: &[(String, String)]) -> u64 {
    let mut deleted = 0;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    for chunk in items.chunks(10) {
        let mut todo: Vec<&(String, String)> = chunk.iter().collect();
        for round in 1..=DELETE_ROUNDS {
            if round > 1 {
                tokio::time::sleep(backoff.next(None)).await;
            }
            let mut entries = Vec::new();
            let mut ids: HashMap<String, &(String, String)> = HashMap::new();
            for (i, item) in todo.iter().enumerate() {
                let eid = format!("m{i}");
                ids.insert(eid.clone(), item);
                if let Ok(e) = DeleteMessageBatchRequestEntry::builder()
                    .id(eid)
                    .receipt_handle(&item.1)
                    .build()
                {
                    entries.push(e);
                }
            }
            let last = round == DELETE_ROUNDS;
            match sqs
                .delete_message_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(r) => {
                    deleted += r.successful().len() as u64;
                    let mut again = Vec::new();
                    for f in r.failed() {
                        let item = ids.get(f.id()).copied();
                        let message = item.map_or("?", |m| m.0.as_str());
                        if f.sender_fault() || last {
                            tracing::warn!(message, code = f.code(), "delete failed: {} (the message will be redelivered; findings ids are stable)", f.message().unwrap_or(""));
                        } else {
                            tracing::info!(
                                message,
                                code = f.code(),
                                round,
                                "delete failed on the queue's side; sending it again"
                            );
                            again.extend(item);
                        }
                    }
                    todo = again;
                }
                Err(e) if last => {
                    tracing::warn!(
                        "delete batch failed: {} (messages will be redelivered)",
                        DisplayErrorContext(&e)
                    );
                    todo.clear();
                }
                Err(e) => {
                    tracing::info!(
                        round,
                        "delete batch failed: {}; sending it again",
                        DisplayErrorContext(&e)
                    );
                }
            }
            if todo.is_empty() {
                break;
            }
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn heartbeat_extends_every_third_of_the_timeout_until_stopped() {
        use std::sync::atomic::AtomicUsize;
        let calls = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let period = heartbeat_period(120);
        assert_eq!(period, Duration::from_secs(40));
        let c2 = calls.clone();
        let task = tokio::spawn(heartbeat_loop(period, stop.clone(), move || {
            let c = c2.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
            }
        }));
        // Paused clock: no real waiting. 39 s: nothing yet; 41 s: one; 121 s: three.
        tokio::time::sleep(Duration::from_secs(39)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(80)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        stop.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(41)).await;
        assert!(task.is_finished());
        assert_eq!(calls.load(Ordering::SeqCst), 3, "no extension after stop");
        assert_eq!(heartbeat_period(1), Duration::from_secs(1));
    }

    #[test]
    fn prometheus_text_has_counters_and_quantiles() {
        let mut s = WatchStats {
            messages: 7,
            ..Default::default()
        };
        for ms in [10, 20, 30, 40, 1000] {
            s.latency_batch_ms.record(ms);
        }
        let text = s.prometheus();
        assert!(text.contains("egresswatch_messages_total 7\n"), "{text}");
        assert!(text.contains("egresswatch_batch_ms_count 5\n"), "{text}");
        assert!(
            text.contains("egresswatch_batch_ms{quantile=\"0.99\"} 1000"),
            "{text}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["latency_batch_ms"]["p50"], 30);
    }
}
