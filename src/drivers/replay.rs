//! Forensic replay from S3: list exactly the key prefixes of the requested accounts, regions and
//! time range, keep the objects whose file-name timestamp falls in the range, and stream them
//! through decode → enrich → detect with a bounded number of objects in memory (the next chunk
//! downloads while the current one is scanned). A checkpoint snapshot after every chunk makes the
//! same command resume where a crash or `kill -9` stopped it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::aws::{self, AwsError};
use crate::decode::Input;
use crate::detect::{self, Agg, FindingKey};
use crate::scan::{Engine, FileFailure, ScanOptions, ScanResult, Summary};
use crate::source::layout::{self, Layout, ReplayQuery};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
}

#[derive(Debug, Clone)]
pub struct ReplayArgs {
    pub bucket: String,
    pub query: ReplayQuery,
    pub layouts: Vec<Layout>,
    /// Objects downloaded at once (and per scanned chunk).
    pub concurrency: usize,
    pub checkpoint: Option<PathBuf>,
    /// Stop after this many objects (for tests and sampling); the checkpoint lets a later run
    /// continue.
    pub max_objects: Option<usize>,
    /// Objects (`s3://bucket/key`; flow-log keys are never rewritten) the baseline state
    /// already counted: scanned for rules, not observed again for baselines.
    pub baseline_counted: std::collections::HashSet<String>,
}

/// Everything a resumed replay needs: finished objects and the aggregates they produced,
/// written atomically together so an object is never counted twice or lost.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Identity of the replay (bucket and query), so a checkpoint is not reused for another.
    identity: String,
    done: BTreeSet<String>,
    names: Vec<String>,
    aggregates: Vec<(FindingKey, Agg)>,
    files: u64,
    records: u64,
    nodata: u64,
    skipdata: u64,
    skipped: u64,
    failed: Vec<FileFailure>,
    bytes: u64,
    rule_matches: u64,
    #[serde(default)]
    unknown: BTreeMap<String, crate::scan::UnknownAcc>,
    /// Objects that decoded to no record at all (checkpoints written before this field: 0).
    #[serde(default)]
    empty_files: u64,
}

/// `s3://bucket/key` as (bucket, key).
fn s3_location(path: &Path) -> Option<(String, String)> {
    let s = path.to_str()?.strip_prefix("s3://")?;
    let (b, k) = s.split_once('/')?;
    (!b.is_empty() && !k.is_empty()).then(|| (b.to_string(), k.to_string()))
}

/// Loads a checkpoint from a local file or an S3 object (`s3://bucket/key`).
async fn load_checkpoint(
    s3: &aws_sdk_s3::Client,
    path: &Path,
    identity: &str,
) -> Result<State, ReplayError> {
    let Some((bucket, key)) = s3_location(path) else {
        return load_state(path, identity);
    };
    match aws::get_object(s3, &bucket, &key).await {
        Ok(bytes) => state_from(path, &bytes, identity),
        Err(AwsError::Missing { .. }) => Ok(State {
            identity: identity.to_string(),
            ..Default::default()
        }),
        Err(e) => Err(e.into()),
    }
}

/// Saves a checkpoint; an S3 PUT replaces the object atomically.
async fn save_checkpoint(
    s3: &aws_sdk_s3::Client,
    path: &Path,
    s: &State,
) -> Result<(), ReplayError> {
    let Some((bucket, key)) = s3_location(path) else {
        return save_state(path, s);
    };
    let body = serde_json::to_vec(s).map_err(|e| ReplayError::Checkpoint {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body))
        .send()
        .await
        .map_err(|e| ReplayError::Checkpoint {
            path: path.display().to_string(),
            message: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        })?;
    Ok(())
}

fn state_from(path: &Path, b: &[u8], identity: &str) -> Result<State, ReplayError> {
    let err = |message: String| ReplayError::Checkpoint {
        path: path.display().to_string(),
        message,
    };
    let s: State = serde_json::from_slice(b)
        .map_err(|e| err(format!("unreadable ({e}); delete it to start over")))?;
    if s.identity != identity {
        return Err(err(format!(
            "belongs to another replay ({}); use another --checkpoint or delete it",
            s.identity
        )));
    }
    Ok(s)
}

/// What resuming does with a checkpoint's bytes before it lists anything: parse and check it,
/// then build the findings of its aggregates against its file-name table. For
/// `crate::fuzzing::state`, which feeds it arbitrary bytes; returns the findings built.
pub(crate) fn resume_from_bytes(
    b: &[u8],
    identity: &str,
    rules: &detect::CompiledRules,
    model: &crate::enrich::Model,
) -> Result<usize, ReplayError> {
    let state = state_from(Path::new("fuzz-checkpoint.json"), b, identity)?;
    let mut aggregates: HashMap<FindingKey, Agg> = HashMap::new();
    // The resumed run's objects hit the same keys again: merged as `run` merges a chunk.
    for (k, a) in state.aggregates.iter().chain(&state.aggregates) {
        match aggregates.get_mut(k) {
            Some(acc) => acc.merge(a.clone(), 20),
            None => {
                aggregates.insert(k.clone(), a.clone());
            }
        }
    }
    Ok(detect::findings::build(aggregates, rules, model, &state.names).len())
}

fn load_state(path: &Path, identity: &str) -> Result<State, ReplayError> {
    match std::fs::read(path) {
        Ok(b) => state_from(path, &b, identity),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
            identity: identity.to_string(),
            ..Default::default()
        }),
        Err(e) => Err(ReplayError::Checkpoint {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

fn save_state(path: &Path, s: &State) -> Result<(), ReplayError> {
    let err = |e: std::io::Error| ReplayError::Checkpoint {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer(&mut f, s)?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        // The checkpoint stays at its last good version; a half-written temporary file (disk
        // full) must not be left behind taking space.
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Objects to replay, sorted and de-duplicated: listed under the computed prefixes and kept when
/// their file name parses and its time is in range.
pub async fn plan(
    s3: &aws_sdk_s3::Client,
    args: &ReplayArgs,
) -> Result<Vec<aws::S3Object>, ReplayError> {
    let mut out: HashMap<String, aws::S3Object> = HashMap::new();
    let prefixes = layout::list_prefixes(&args.query, &args.layouts);
    tracing::info!(prefixes = prefixes.len(), "listing S3 prefixes");
    for p in &prefixes {
        for o in aws::list_objects(s3, &args.bucket, p).await? {
            match layout::parse_key(&o.key) {
                Some(info) if layout::in_range(&info, &args.query) => {
                    out.insert(o.key.clone(), o);
                }
                None if crate::source::securitylake::parse_key(&o.key)
                    .is_some_and(|i| crate::source::securitylake::in_range(&i, &args.query)) =>
                {
                    out.insert(o.key.clone(), o);
                }
                None if args.layouts.contains(&layout::Layout::Firehose)
                    && crate::source::firehose::parse_key(&o.key)
                        .is_some_and(|i| crate::source::firehose::in_range(&i, &args.query)) =>
                {
                    out.insert(o.key.clone(), o);
                }
                Some(_) => {}
                None => tracing::debug!(key = %o.key, "not a flow-log object name; skipped"),
            }
        }
    }
    let mut v: Vec<aws::S3Object> = out.into_values().collect();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(v)
}

struct Progress {
    tty: bool,
    started: Instant,
    total: usize,
}

impl Progress {
    fn update(&self, done: usize, bytes: u64, records: u64, findings: usize) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = records as f64 / secs;
        let eta = if done > 0 && done < self.total {
            format!("{:.0}s", secs / done as f64 * (self.total - done) as f64)
        } else {
            "-".into()
        };
        if self.tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(
                e,
                "\r[replay] {done}/{} objects  {:.1} MiB  {:.0} records/s  {findings} findings  ETA {eta}   ",
                self.total,
                bytes as f64 / 1048576.0,
                rate
            );
            let _ = e.flush();
        } else {
            tracing::info!(done, total = self.total, bytes, records, records_per_sec = rate as u64, findings, eta = %eta, "replay progress");
        }
    }

    fn finish(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

async fn download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: &[aws::S3Object],
    concurrency: usize,
) -> Vec<(String, Result<bytes::Bytes, AwsError>)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, o) in objects.iter().enumerate() {
        let (s3, bucket, o, sem) = (s3.clone(), bucket.to_string(), o.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            // Read as listed: If-Match on the listed ETag, length checked against its size.
            let r = aws::get_object_as(&s3, &bucket, &o.key, aws::Expect::from(&o)).await;
            (i, o.key, r)
        });
    }
    let mut out: Vec<Option<(String, Result<bytes::Bytes, AwsError>)>> =
        (0..objects.len()).map(|_| None).collect();
    while let Some(res) = set.join_next().await {
        match res {
            Ok((i, key, r)) => out[i] = Some((key, r)),
            Err(e) => tracing::error!("download task failed: {e}"),
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| {
                (
                    objects[i].key.clone(),
                    Err(AwsError::Call("download task failed".into())),
                )
            })
        })
        .collect()
}

/// Runs a replay. Findings cover the whole range (aggregated across objects), so they are
/// returned at the end; with a checkpoint, an interrupted run resumes without losing or
/// double-counting any object.
pub async fn replay(
    s3: &aws_sdk_s3::Client,
    engine: Arc<Engine>,
    args: &ReplayArgs,
    opts: &ScanOptions,
) -> Result<ScanResult, ReplayError> {
    Ok(replay_with_traffic(s3, engine, args, opts, false).await?.0)
}

/// [`replay`], with the report's traffic totals when `traffic` is set, and the names of the
/// objects read. Traffic totals are not checkpointed, so a report cannot resume: with
/// `traffic` and a checkpoint that already holds finished objects, this is an error.
pub async fn replay_with_traffic(
    s3: &aws_sdk_s3::Client,
    engine: Arc<Engine>,
    args: &ReplayArgs,
    opts: &ScanOptions,
    traffic: bool,
) -> Result<
    (
        ScanResult,
        Option<crate::report::traffic::Traffic>,
        Vec<String>,
    ),
    ReplayError,
> {
    let started = Instant::now();
    let identity = format!(
        "s3://{}/{:?}/{:?}/{:?}/{}..{}/{:?}",
        args.bucket,
        args.query.prefix,
        args.query.accounts,
        args.query.regions,
        args.query.start,
        args.query.end,
        args.query.flow_log_id
    );
    let mut state = match &args.checkpoint {
        Some(p) => load_checkpoint(s3, p, &identity).await?,
        None => State {
            identity: identity.clone(),
            ..Default::default()
        },
    };
    if !state.done.is_empty() {
        if traffic {
            return Err(ReplayError::Checkpoint {
                path: args
                    .checkpoint
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.display().to_string()),
                message: "a report needs the traffic of every object, which checkpoints do not keep: use a new checkpoint file".into(),
            });
        }
        tracing::info!(done = state.done.len(), "resuming from checkpoint");
    }
    // Baseline observations are not checkpointed (like traffic): a resumed replay cannot feed
    // them whole, so it feeds none and says so; the state stays as it was.
    let baseline_on = opts.baseline.is_some() && state.done.is_empty();
    if opts.baseline.is_some() && !baseline_on {
        tracing::warn!(
            "resumed from a checkpoint: behavioural baselines are not updated by this run (their observations are not checkpointed); replay the range again with a new checkpoint to feed them"
        );
    }
    let mut observations: Option<crate::baseline::Observations> = None;
    let mut totals = traffic.then(crate::report::traffic::Traffic::default);
    let all = plan(s3, args).await?;
    let mut todo: Vec<aws::S3Object> = all
        .into_iter()
        .filter(|o| !state.done.contains(&o.key))
        .collect();
    if let Some(m) = args.max_objects {
        todo.truncate(m);
    }
    // Objects an earlier run could not download are not done, so they are read again now: their
    // old failures go (each had counted one file), and a new failure is recorded if the read
    // fails again. Failures of objects marked done (read, then failed to decode) stay.
    if !state.failed.is_empty() {
        let again: std::collections::HashSet<String> = todo
            .iter()
            .map(|o| format!("s3://{}/{}", args.bucket, o.key))
            .collect();
        let before = state.failed.len();
        state.failed.retain(|f| !again.contains(&f.file));
        let retried = (before - state.failed.len()) as u64;
        state.files = state.files.saturating_sub(retried);
        if retried > 0 {
            tracing::info!(
                objects = retried,
                "reading again the objects an earlier run could not download"
            );
        }
    }
    let progress = Progress {
        tty: std::io::stderr().is_terminal(),
        started,
        total: state.done.len() + todo.len(),
    };
    let mut aggregates: HashMap<FindingKey, Agg> =
        std::mem::take(&mut state.aggregates).into_iter().collect();
    let chunk = args.concurrency.max(1) * 2;
    let chunks: Vec<Vec<aws::S3Object>> = todo.chunks(chunk).map(|c| c.to_vec()).collect();
    let mut pending = chunks.first().map(|c| {
        let (s3, bucket, c, n) = (s3.clone(), args.bucket.clone(), c.clone(), args.concurrency);
        tokio::spawn(async move { download(&s3, &bucket, &c, n).await })
    });
    for i in 0..chunks.len() {
        let Some(handle) = pending.take() else { break };
        let downloaded = handle.await.unwrap_or_default();
        // Download the next chunk while this one is scanned: two chunks in memory at most.
        pending = chunks.get(i + 1).map(|c| {
            let (s3, bucket, c, n) = (s3.clone(), args.bucket.clone(), c.clone(), args.concurrency);
            tokio::spawn(async move { download(&s3, &bucket, &c, n).await })
        });
        let mut inputs = Vec::new();
        let mut finished = Vec::new();
        for (key, r) in downloaded {
            let name = format!("s3://{}/{key}", args.bucket);
            match r {
                Ok(data) => {
                    state.bytes += data.len() as u64;
                    inputs.push(Input::Memory { name, data });
                    finished.push(key);
                }
                Err(AwsError::Missing { .. }) => {
                    tracing::warn!(object = %name, "object listed but gone; skipped");
                    finished.push(key);
                }
                Err(e) => {
                    // Not marked done: a rerun with the checkpoint tries it again.
                    tracing::error!(object = %name, "download failed: {e}");
                    state.files += 1;
                    state.failed.push(FileFailure {
                        file: name,
                        error: e.to_string(),
                    });
                }
            }
        }
        let base = state.names.len() as u32;
        state.names.extend(inputs.iter().map(Input::name));
        let eng = engine.clone();
        let mut scan_opts = opts.clone();
        scan_opts.baseline = baseline_on.then(|| {
            inputs
                .iter()
                .map(|i| args.baseline_counted.contains(&i.name()))
                .collect()
        });
        let part = tokio::task::spawn_blocking(move || {
            crate::scan::run_partial_with(
                &inputs,
                base,
                &eng.model,
                &eng.rules,
                &eng.enrich,
                &scan_opts,
                traffic,
            )
        })
        .await
        .map_err(|e| ReplayError::Checkpoint {
            path: "-".into(),
            message: format!("scan task failed: {e}"),
        })?;
        if let (Some(t), Some(p)) = (totals.as_mut(), part.traffic) {
            t.absorb(p.cells);
        }
        if let Some(o) = part.baseline {
            match observations.as_mut() {
                Some(m) => m.merge(o),
                None => observations = Some(o),
            }
        }
        for (k, a) in part.aggregates {
            match aggregates.get_mut(&k) {
                Some(existing) => existing.merge(a, opts.detect.max_evidence),
                None => {
                    aggregates.insert(k, a);
                }
            }
        }
        let s = part.summary;
        state.files += s.files;
        state.records += s.records;
        state.nodata += s.nodata;
        state.skipdata += s.skipdata;
        state.skipped += s.skipped;
        state.empty_files += s.empty_files;
        state.rule_matches += s.rule_matches;
        state.failed.extend(s.errors);
        for (eni, a) in s.unknown_enis {
            state.unknown.entry(eni).or_default().merge(&a);
        }
        state.done.extend(finished);
        if let Some(p) = &args.checkpoint {
            state.aggregates = aggregates
                .iter()
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect();
            save_checkpoint(s3, p, &state).await?;
            state.aggregates.clear();
        }
        progress.update(
            state.done.len(),
            state.bytes,
            state.records,
            aggregates.len(),
        );
    }
    progress.finish();
    let findings = detect::findings::build(aggregates, &engine.rules, &engine.model, &state.names);
    let summary = Summary {
        files: state.files,
        records: state.records,
        nodata: state.nodata,
        skipdata: state.skipdata,
        skipped: state.skipped,
        failed_files: state.failed.len() as u64,
        findings: findings.len() as u64,
        rule_matches: state.rule_matches,
        bytes_read: state.bytes,
        elapsed_ms: started.elapsed().as_millis() as u64,
        errors: state.failed,
        skipped_samples: Vec::new(),
        empty_files: state.empty_files,
        ..Default::default()
    };
    let mut summary = summary;
    summary.add_unknown(std::mem::take(&mut state.unknown));
    Ok((
        ScanResult {
            findings,
            summary,
            baseline: if baseline_on {
                Some(observations.unwrap_or_default())
            } else {
                None
            },
        },
        totals,
        state.names,
    ))
}
