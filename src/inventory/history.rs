//! Putting the history together before a scan: load the ENI ledger, read CloudTrail into it
//! (and persist what was new), and hand the merged ledger to the inventory the model is built
//! from. Also records inventory snapshots into the ledger (`inventory collect`, watch reloads).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::cloudtrail::{self, TrailReader, TrailStats};
use super::ledger::{self, Ledger, Owner, Segment};
use super::Inventory;
use crate::state::{self, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cloudtrail {location}: {message}")]
    Trail { location: String, message: String },
}

/// `--cloudtrail`, `--ledger`, `--eni-grace` and the time range of the flow logs.
#[derive(Debug, Clone, Default)]
pub struct HistoryOptions {
    pub cloudtrail: Option<String>,
    pub ledger: Option<String>,
    /// Flow-log time range: trail files are read for it plus a day on each side (files are
    /// named by delivery time). `None` reads every trail file given.
    pub range: Option<(i64, i64)>,
    pub grace: Option<(i64, i64)>,
}

impl HistoryOptions {
    pub fn is_empty(&self) -> bool {
        self.cloudtrail.is_none() && self.ledger.is_none()
    }
}

/// What loading the history did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HistoryReport {
    pub cloudtrail: Option<TrailStats>,
    pub ledger_enis: usize,
    pub ledger_resources: usize,
    pub ledger_segments: usize,
    pub ledger_skipped_lines: u64,
    pub segment_written: Option<String>,
    /// The trail was read from this checkpoint on (an earlier continuous run's), not whole.
    pub trail_resumed_from: Option<String>,
}

const DAY: i64 = 86_400;

/// Trail files under a local folder (recursively), in name order.
fn local_trail_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if root.is_file() {
        out.push(root.to_path_buf());
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let n = p.to_string_lossy();
                if n.ends_with(".json.gz") || n.ends_with(".json") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn in_range(key: &str, range: Option<(i64, i64)>) -> bool {
    match (range, cloudtrail::key_day(key)) {
        (Some((start, end)), Some(day)) => day + DAY >= start - DAY && day <= end + DAY,
        _ => true,
    }
}

/// Reads the trail at `location` (a file, a folder, or `s3://bucket/prefix`) into `reader`.
pub async fn read_trail(
    location: &str,
    range: Option<(i64, i64)>,
    s3: Option<&aws_sdk_s3::Client>,
    reader: &mut TrailReader,
) -> Result<(), HistoryError> {
    let err = |message: String| HistoryError::Trail {
        location: location.to_string(),
        message,
    };
    if let Some((bucket, prefix)) = state::parse_s3_url(location) {
        let client = s3.ok_or_else(|| err("no S3 client configured".into()))?;
        let objects = crate::aws::list_objects(client, &bucket, &prefix)
            .await
            .map_err(|e| err(e.to_string()))?;
        let keys: Vec<String> = objects
            .into_iter()
            .map(|o| o.key)
            .filter(|k| {
                if cloudtrail::is_ignored_key(k)
                    || !(k.ends_with(".json.gz") || k.ends_with(".json"))
                {
                    return false;
                }
                in_range(k, range)
            })
            .collect();
        tracing::info!(location, files = keys.len(), "reading CloudTrail files");
        // A few downloads ahead of the parser.
        for chunk in keys.chunks(8) {
            let mut set = tokio::task::JoinSet::new();
            for (i, k) in chunk.iter().enumerate() {
                let (c, b, k) = (client.clone(), bucket.clone(), k.clone());
                // A gzip trail file is smaller than its JSON; over the limit compressed, it is
                // over it inflated: refused before the download.
                let limit = crate::limits::get().max_json_bytes as u64;
                set.spawn(
                    async move { (i, crate::aws::get_object_limited(&c, &b, &k, limit).await) },
                );
            }
            let mut got: Vec<(usize, _)> = Vec::new();
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(x) => got.push(x),
                    Err(e) => return Err(err(format!("download task failed: {e}"))),
                }
            }
            got.sort_by_key(|(i, _)| *i);
            for (i, body) in got {
                let name = format!("s3://{bucket}/{}", chunk[i]);
                match body {
                    Ok(b) => reader.read_file(&name, &b),
                    Err(e) => {
                        tracing::error!(file = %name, "cloudtrail file failed: {e}");
                        reader.stats.failed_files += 1;
                        reader.stats.errors.push(format!("{name}: {e}"));
                    }
                }
            }
        }
        return Ok(());
    }
    let files = local_trail_files(Path::new(location)).map_err(|e| err(e.to_string()))?;
    for f in files {
        let name = f.display().to_string();
        if !in_range(&name, range) {
            reader.stats.files_ignored += 1;
            continue;
        }
        // The size is checked before reading: the trail reader refuses it anyway, but only
        // after the whole file was in memory.
        let limit = crate::limits::get().max_json_bytes;
        match std::fs::File::open(&f).and_then(|file| {
            let len = file.metadata()?.len();
            // Compressed files may inflate past the limit; the reader bounds that.
            if len > limit as u64 {
                return Err(crate::limits::over_json(limit));
            }
            crate::limits::read_bounded(file, limit, len as usize)
        }) {
            Ok(b) => reader.read_file(&name, &b),
            Err(e) => {
                tracing::error!(file = %name, "cloudtrail file failed: {e}");
                reader.stats.failed_files += 1;
                reader.stats.errors.push(format!("{name}: {e}"));
            }
        }
    }
    Ok(())
}

/// Parses an ENI lifetime grace `BEFORE,AFTER` (e.g. `2m,20m`) into seconds.
pub fn parse_grace(s: &str) -> Result<(i64, i64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: BEFORE,AFTER like 2m,20m"))?;
    let d = |x: &str| {
        crate::time::parse_duration(x.trim()).ok_or_else(|| format!("{x:?}: a duration like 2m"))
    };
    Ok((d(a)?, d(b)?))
}

/// Opens the ledger store named by `--ledger`.
pub fn open_store(location: &str, s3: Option<&aws_sdk_s3::Client>) -> Result<Store, HistoryError> {
    Ok(Store::open(location, || s3.cloned())?)
}

/// Loads the ledger, reads the trail into it (persisting new entries), and puts the result in
/// `inv.history`.
pub async fn load(
    inv: &mut Inventory,
    opts: &HistoryOptions,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<HistoryReport, HistoryError> {
    let mut report = HistoryReport::default();
    inv.eni_grace = opts.grace.or(inv.eni_grace);
    let store = match &opts.ledger {
        Some(l) => Some(open_store(l, s3)?),
        None => None,
    };
    let mut led = match &store {
        Some(s) => Ledger::load(s).await?,
        None => Ledger::default(),
    };
    if let Some(trail) = &opts.cloudtrail {
        // Without a flow-log range (watch, inventory collect), a run resumes where the last
        // one that read this trail stopped: files from two days before it on (delivery-time
        // names, plus the reader's day of margin), the overlap dropped by eventID.
        let now = crate::time::now_secs();
        let checkpoint = led.checkpoints.get(trail.as_str()).copied().flatten();
        let range = match (opts.range, checkpoint) {
            (Some(r), _) => Some(r),
            (None, Some(until)) => {
                report.trail_resumed_from = Some(crate::time::format_rfc3339(until));
                tracing::info!(
                    trail = %trail,
                    from = %crate::time::format_rfc3339(until),
                    "CloudTrail read resumes from the ledger's checkpoint"
                );
                Some((until, now))
            }
            (None, None) => None,
        };
        let mut reader = TrailReader::with_seen(led.seen_events.clone());
        read_trail(trail, range, s3, &mut reader).await?;
        reader.finish();
        // A checkpoint only when the read reached the present and no file failed (a failed
        // file must be read again next time, not skipped for good).
        if opts.range.is_none() && reader.stats.failed_files == 0 && store.is_some() {
            reader
                .entries
                .push(ledger::Entry::TrailCheckpoint(ledger::TrailCheckpoint {
                    location: trail.clone(),
                    until: Some(now),
                }));
        }
        let st = &reader.stats;
        tracing::info!(
            files = st.files,
            kept = st.events_kept,
            duplicates = st.duplicates,
            failed_or_dry_run = st.failed_or_dry_run,
            failed_files = st.failed_files,
            mb_per_s = format!("{:.1}", st.mb_per_s),
            "CloudTrail read"
        );
        let seg = Segment {
            entries: std::mem::take(&mut reader.entries),
        };
        if let Some(s) = &store {
            report.segment_written = seg.write(s).await?;
        }
        for e in seg.entries {
            led.add(e);
        }
        report.cloudtrail = Some(reader.stats);
    }
    report.ledger_enis = led.enis.len();
    report.ledger_resources = led.resources.len();
    report.ledger_segments = led.segments;
    report.ledger_skipped_lines = led.skipped;
    inv.history = led;
    Ok(report)
}

/// Who each listed ENI belongs to at `now` according to the model built from `inv` (kept in
/// the ledger: the resource's Describe output may be gone when the ENI's traffic is scanned).
/// Among candidates with the same VpcConfig, the one running at the snapshot's time.
pub fn owners(inv: &Inventory, now: i64) -> HashMap<String, Owner> {
    let m = crate::enrich::Model::build(inv, None);
    let mut out = HashMap::new();
    for e in &m.enis {
        let (r, conf) = crate::enrich::resource_at(&m, e, now);
        if r == crate::enrich::NONE || conf == crate::enrich::conf::GROUP {
            continue;
        }
        let Some(res) = m.resources.get(r as usize) else {
            continue;
        };
        if res.kind == crate::enrich::model::ResourceKind::Unknown {
            continue;
        }
        out.insert(
            e.id.to_string(),
            Owner {
                kind: res.kind_str().to_string(),
                name: res.name.to_string(),
                arn: res.arn.as_deref().map(str::to_string),
                network_isolation: res.network_isolation,
                confidence: crate::enrich::model::conf_name(conf).map(str::to_string),
            },
        );
    }
    out
}

/// Records an inventory snapshot taken at `now` in the ledger at `store`: births with their
/// owners, and disappearances. Returns the segment written, if anything changed.
pub async fn record_snapshot(
    store: &Store,
    inv: &Inventory,
    now: i64,
    source: &str,
) -> Result<Option<String>, HistoryError> {
    let led = Ledger::load(store).await?;
    let seg = ledger::diff_snapshot(&led, inv, &owners(inv, now), now, source);
    Ok(seg.write(store).await?)
}
