//! Open aggregation windows of the rule findings, kept between batches (`watch`) and
//! invocations (the Lambda), in memory or in a store (`--state`, `EGRESSWATCH_STATE`) under
//! `windows/` as [`snapshot`](super::snapshot) generations.
//!
//! A window (rule, ENI, destination, window start: one finding id) is raised once, `activity`
//! `new` with `revision` 1, and every later batch that adds records to it emits it again with
//! the same id, `activity` `update`, the next revision and the cumulative counters. The counters
//! of a window's last revision equal those of a `scan` over the same objects, whatever the batch
//! split, restarts and concurrent writers included:
//!
//! - **Objects are counted once.** Each absorbed object's id (name and size) is remembered; an
//!   object delivered again (SQS is at-least-once; a crash between the state commit and the
//!   message delete) adds nothing, and the windows it touches are re-emitted at their current
//!   revision (an exact duplicate of what was emitted, harmless with stable ids).
//! - **State first, findings second.** A batch's revisions are computed on the state being
//!   committed and handed on only once that generation is written; a writer that loses the race
//!   re-reads the winner and re-applies its own objects (those the winner already counted
//!   skipped), so two instances that processed different objects of one window both land, and
//!   their emitted revisions follow each other (1 then 2), never two `new`s with partial sums.
//! - **Windows close on event time.** The watermark is the largest record end time seen (of the
//!   records that matched a rule). A window closes once `window start + window length +
//!   lateness <= watermark` (lateness default 15 minutes): it leaves the open set, and its final
//!   counters and revision are remembered as closed for [`CLOSED_RETENTION`] seconds of event
//!   time (at most [`MAX_CLOSED`] windows).
//! - **Late data.** Records for a closed window still remembered reopen nothing for long: they
//!   are added to the final counters and emitted as an `update` with the next revision (so the
//!   counters still equal a scan's), and the window closes again at the next close. Records for a
//!   window closed longer ago than the retention (or evicted by the bound) are dropped and
//!   counted in [`OpenWindows::too_late`], never raised again as `new`.
//!
//! Evidence and representative records name files by index into a file-name table persisted
//! with the state, holding only the names that open and remembered windows refer to.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::detect::findings::{self, Activity};
use crate::detect::{Agg, CompiledRules, Finding, FindingKey};
use crate::enrich::Model;

/// Folder of the window snapshots inside a store.
pub const DIR: &str = "windows";
/// Default allowed lateness (seconds of event time after a window's end).
pub const DEFAULT_LATENESS: i64 = 15 * 60;
/// How long (event time) a closed window's final counters and revision are remembered.
pub const CLOSED_RETENTION: i64 = 7 * 86_400;
/// At most this many closed windows are remembered (the oldest go first).
pub const MAX_CLOSED: usize = 20_000;
/// At most this many object ids are remembered for de-duplication (the oldest go first).
pub const MAX_OBJECTS: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Window {
    key: FindingKey,
    agg: Agg,
    /// The last revision computed (and, once committed, emitted).
    revision: u32,
}

/// The serialized form: maps keyed by structs are lists in JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Repr {
    format: String,
    watermark: Option<i64>,
    files: Vec<String>,
    open: Vec<Window>,
    closed: Vec<Window>,
    /// (object id, largest event time it contributed).
    objects: Vec<(String, i64)>,
    too_late: u64,
    #[serde(default)]
    over_limit: u64,
}

const FORMAT: &str = "egresswatch-windows/1";

/// What absorbing one object did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Absorbed {
    /// Windows whose counters changed (emitted with the next revision).
    pub touched: BTreeSet<FindingKey>,
    /// Windows of an object already counted (emitted again at their current revision).
    pub replayed: BTreeSet<FindingKey>,
    /// The object was counted before and added nothing.
    pub duplicate: bool,
}

impl Absorbed {
    pub fn extend(&mut self, o: Absorbed) {
        self.touched.extend(o.touched);
        self.replayed.extend(o.replayed);
        self.duplicate |= o.duplicate;
    }
}

/// The open (and recently closed) rule windows. See the module docs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "Repr", try_from = "Repr")]
pub struct OpenWindows {
    /// Largest record end time absorbed (event time, seconds).
    pub watermark: Option<i64>,
    files: Vec<String>,
    file_index: HashMap<String, u32>,
    open: BTreeMap<FindingKey, Window>,
    closed: BTreeMap<FindingKey, Window>,
    objects: HashMap<String, i64>,
    /// Record aggregates dropped because their window closed longer ago than the retention.
    pub too_late: u64,
    /// Aggregates of new windows refused because `max_keys` windows were open
    /// ([`crate::limits::Limits::max_keys`]); warned the first time.
    pub over_limit: u64,
}

impl From<OpenWindows> for Repr {
    fn from(w: OpenWindows) -> Repr {
        let mut objects: Vec<(String, i64)> = w.objects.into_iter().collect();
        objects.sort();
        Repr {
            format: FORMAT.to_string(),
            watermark: w.watermark,
            files: w.files,
            open: w.open.into_values().collect(),
            closed: w.closed.into_values().collect(),
            objects,
            too_late: w.too_late,
            over_limit: w.over_limit,
        }
    }
}

impl TryFrom<Repr> for OpenWindows {
    type Error = String;
    fn try_from(r: Repr) -> Result<OpenWindows, String> {
        if r.format != FORMAT {
            return Err(format!(
                "window state format {:?}, this build reads {FORMAT:?}",
                r.format
            ));
        }
        let n = r.files.len() as u32;
        for w in r.open.iter().chain(&r.closed) {
            if w.agg.rep.file >= n || w.agg.evidence.iter().any(|e| e.0 >= n) {
                return Err("window state refers to a file outside its table".into());
            }
        }
        Ok(OpenWindows {
            watermark: r.watermark,
            file_index: r
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone(), i as u32))
                .collect(),
            files: r.files,
            open: r.open.into_iter().map(|w| (w.key.clone(), w)).collect(),
            closed: r.closed.into_iter().map(|w| (w.key.clone(), w)).collect(),
            objects: r.objects.into_iter().collect(),
            too_late: r.too_late,
            over_limit: r.over_limit,
        })
    }
}

impl OpenWindows {
    pub fn new() -> OpenWindows {
        OpenWindows::default()
    }

    pub fn from_json(body: &[u8]) -> Result<OpenWindows, String> {
        serde_json::from_slice(body).map_err(|e| format!("window state: {e}"))
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Strings, integers and lists only: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn open_len(&self) -> usize {
        self.open.len()
    }

    pub fn closed_len(&self) -> usize {
        self.closed.len()
    }

    pub fn file_table_len(&self) -> usize {
        self.files.len()
    }

    /// Whether the object (see [`crate::baseline::persist::object_id`]) was counted.
    pub fn counted(&self, object: &str) -> bool {
        self.objects.contains_key(object)
    }

    /// The cumulative counters and last revision of a window, open or remembered closed.
    pub fn get(&self, key: &FindingKey) -> Option<(&Agg, u32)> {
        self.open
            .get(key)
            .or_else(|| self.closed.get(key))
            .map(|w| (&w.agg, w.revision))
    }

    /// Every open and remembered window as a finding at its current revision (inspection,
    /// tests); emits nothing and changes nothing.
    pub fn findings(&self, rules: &CompiledRules, model: &Model) -> Vec<Finding> {
        let mut copy = self.clone();
        let all = Absorbed {
            replayed: self
                .open
                .keys()
                .chain(self.closed.keys())
                .cloned()
                .collect(),
            ..Default::default()
        };
        copy.emit(&all, rules, model)
    }

    fn file(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.file_index.get(name) {
            return i;
        }
        let i = self.files.len() as u32;
        self.files.push(name.to_string());
        self.file_index.insert(name.to_string(), i);
        i
    }

    /// Adds one object's aggregates (file indices into `files`, the batch's file-name table)
    /// to the windows. An object counted before adds nothing: its windows are `replayed`.
    pub fn absorb(
        &mut self,
        object: &str,
        aggs: impl IntoIterator<Item = (FindingKey, Agg)>,
        files: &[String],
        max_evidence: usize,
    ) -> Absorbed {
        let cap = crate::limits::get().max_keys;
        self.absorb_capped(object, aggs, files, max_evidence, cap)
    }

    /// [`Self::absorb`] with at most `max_open` open windows: aggregates of new windows beyond
    /// it are counted in `over_limit` (warned once), those of open ones still merge.
    pub fn absorb_capped(
        &mut self,
        object: &str,
        aggs: impl IntoIterator<Item = (FindingKey, Agg)>,
        files: &[String],
        max_evidence: usize,
        max_open: usize,
    ) -> Absorbed {
        let mut out = Absorbed::default();
        if self.objects.contains_key(object) {
            out.duplicate = true;
            out.replayed = aggs
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| self.open.contains_key(k) || self.closed.contains_key(k))
                .collect();
            return out;
        }
        let mut latest = i64::MIN;
        let retention_floor = self.watermark.map(|w| w.saturating_sub(CLOSED_RETENTION));
        for (key, mut agg) in aggs {
            let end = agg.last_seen.or(agg.first_seen).unwrap_or(key.window);
            latest = latest.max(end);
            // Rebase the file indices onto the persisted table.
            let rebase = |s: &mut Self, f: u32| match files.get(f as usize) {
                Some(name) => s.file(name),
                None => s.file(""),
            };
            agg.rep.file = rebase(self, agg.rep.file);
            for e in agg.evidence.iter_mut() {
                e.0 = rebase(self, e.0);
            }
            if let Some(w) = self.open.get_mut(&key) {
                w.agg.merge(agg, max_evidence);
            } else if let Some(mut w) = self.closed.remove(&key) {
                // Late data for a remembered closed window: added to its final counters.
                w.agg.merge(agg, max_evidence);
                self.open.insert(key.clone(), w);
            } else if retention_floor.is_some_and(|f| key.window < f) {
                self.too_late += 1;
                continue;
            } else if self.open.len() >= max_open {
                // Never grown without bound: counted, warned once, the open ones go on.
                if self.over_limit == 0 {
                    tracing::warn!(
                        max_keys = self.open.len(),
                        "more open rule windows than the limit ({} / {}): new ones are counted as over_limit and not tracked",
                        crate::limits::KEYS.env,
                        crate::limits::KEYS.flag
                    );
                }
                self.over_limit += 1;
                continue;
            } else {
                self.open.insert(
                    key.clone(),
                    Window {
                        key: key.clone(),
                        agg,
                        revision: 0,
                    },
                );
            }
            out.touched.insert(key);
        }
        if latest > i64::MIN {
            self.watermark = Some(self.watermark.map_or(latest, |w| w.max(latest)));
        }
        self.objects
            .insert(object.to_string(), latest.max(self.watermark.unwrap_or(0)));
        out
    }

    /// Findings for the windows of `absorbed`: touched ones get the next revision (1 is
    /// `new`, later ones `update`) with their cumulative counters; replayed ones are emitted at
    /// their current revision. Call once per batch, before the state is committed.
    pub fn emit(
        &mut self,
        absorbed: &Absorbed,
        rules: &CompiledRules,
        model: &Model,
    ) -> Vec<Finding> {
        let mut revs: HashMap<String, u32> = HashMap::new();
        let mut picked: Vec<(FindingKey, Agg)> = Vec::new();
        for key in absorbed.touched.iter().chain(
            absorbed
                .replayed
                .iter()
                .filter(|k| !absorbed.touched.contains(*k)),
        ) {
            let bump = absorbed.touched.contains(key);
            let w = match self.open.get_mut(key) {
                Some(w) => w,
                None => match self.closed.get_mut(key) {
                    Some(w) => w,
                    None => continue,
                },
            };
            if bump {
                w.revision += 1;
            }
            if w.revision == 0 {
                continue;
            }
            let Some(rule) = rules.rules.get(key.rule as usize) else {
                continue;
            };
            let id = findings::finding_id(
                &rule.def.id,
                &key.eni,
                &crate::net::ip::to_std(key.dst).to_string(),
                key.window,
            );
            revs.insert(id, w.revision);
            picked.push((key.clone(), w.agg.clone()));
        }
        let mut out = findings::build(picked, rules, model, &self.files);
        for f in out.iter_mut() {
            f.revision = revs.get(&f.id).copied().unwrap_or(1);
            f.activity = if f.revision <= 1 {
                Activity::New
            } else {
                Activity::Update
            };
        }
        out
    }

    /// Closes the open windows that ended more than `lateness` seconds before the watermark
    /// (window length `window_secs`), forgets closed windows and object ids past the retention
    /// and the bounds, and compacts the file-name table. Returns how many windows closed.
    pub fn close(&mut self, window_secs: i64, lateness: i64) -> usize {
        let Some(wm) = self.watermark else {
            return 0;
        };
        let window_secs = window_secs.max(1);
        let done: Vec<FindingKey> = self
            .open
            .keys()
            .filter(|k| {
                k.window
                    .saturating_add(window_secs)
                    .saturating_add(lateness.max(0))
                    <= wm
            })
            .cloned()
            .collect();
        let n = done.len();
        for k in done {
            if let Some(w) = self.open.remove(&k) {
                self.closed.insert(k, w);
            }
        }
        let floor = wm.saturating_sub(CLOSED_RETENTION);
        self.closed.retain(|k, _| k.window >= floor);
        if self.closed.len() > MAX_CLOSED {
            let mut by_age: Vec<(i64, FindingKey)> =
                self.closed.keys().map(|k| (k.window, k.clone())).collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(self.closed.len() - MAX_CLOSED) {
                self.closed.remove(&k);
            }
        }
        // Object ids are kept as long as a window they can contribute to is remembered.
        let keep_from = floor.saturating_sub(window_secs);
        self.objects.retain(|_, t| *t >= keep_from);
        if self.objects.len() > MAX_OBJECTS {
            let mut by_age: Vec<(i64, String)> =
                self.objects.iter().map(|(o, t)| (*t, o.clone())).collect();
            by_age.sort();
            for (_, o) in by_age.into_iter().take(self.objects.len() - MAX_OBJECTS) {
                self.objects.remove(&o);
            }
        }
        self.compact();
        n
    }

    /// Keeps only the file names windows refer to, renumbered in their table order.
    fn compact(&mut self) {
        let mut used: BTreeSet<u32> = BTreeSet::new();
        for w in self.open.values().chain(self.closed.values()) {
            used.insert(w.agg.rep.file);
            used.extend(w.agg.evidence.iter().map(|e| e.0));
        }
        if used.len() == self.files.len() {
            return;
        }
        let remap: HashMap<u32, u32> = used
            .iter()
            .enumerate()
            .map(|(new, &old)| (old, new as u32))
            .collect();
        let old = std::mem::take(&mut self.files);
        self.files = used.iter().map(|&i| old[i as usize].clone()).collect();
        self.file_index = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i as u32))
            .collect();
        for w in self.open.values_mut().chain(self.closed.values_mut()) {
            w.agg.rep.file = remap[&w.agg.rep.file];
            for e in w.agg.evidence.iter_mut() {
                e.0 = remap[&e.0];
            }
        }
    }
}

/// One object's contribution to a batch: its id (name and size), its aggregates (file indices
/// into the batch's file-name table).
pub type ObjectAggs = (String, HashMap<FindingKey, Agg>);

/// The windows of a continuous run (`watch`, the Lambda) and where they persist.
pub struct WindowStage {
    pub windows: OpenWindows,
    snaps: Option<super::snapshot::Snapshots>,
    loaded: Option<u64>,
    pub lateness: i64,
    pub window_secs: i64,
    pub max_evidence: usize,
}

/// What one batch did to the windows.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The findings to hand on (only once the state is committed).
    pub findings: Vec<Finding>,
    pub closed: usize,
    pub duplicates: usize,
    /// The generation written, with a store.
    pub generation: Option<u64>,
}

impl WindowStage {
    /// Windows in memory only (lost with the process).
    pub fn memory(lateness: i64, detect: crate::detect::DetectOptions) -> WindowStage {
        WindowStage {
            windows: OpenWindows::new(),
            snaps: None,
            loaded: None,
            lateness,
            window_secs: detect.window,
            max_evidence: detect.max_evidence,
        }
    }

    /// Windows persisted under `windows/` in `store`, loaded now.
    pub async fn open(
        store: super::Store,
        lateness: i64,
        detect: crate::detect::DetectOptions,
    ) -> Result<WindowStage, String> {
        let snaps = super::snapshot::Snapshots::new(store, DIR);
        let (loaded, windows) = match snaps.load().await.map_err(|e| e.to_string())? {
            Some(l) => (Some(l.generation), OpenWindows::from_json(&l.body)?),
            None => (None, OpenWindows::new()),
        };
        Ok(WindowStage {
            windows,
            snaps: Some(snaps),
            loaded,
            lateness,
            window_secs: detect.window,
            max_evidence: detect.max_evidence,
        })
    }

    pub fn location(&self) -> Option<String> {
        self.snaps.as_ref().map(|s| s.location())
    }

    /// Absorbs a batch's objects, computes their windows' revisions, closes what the watermark
    /// passed and commits the state (re-reading and re-applying on a conflict); the findings
    /// returned are to be handed on now. Nothing changes when the commit fails.
    pub async fn apply(
        &mut self,
        objects: &[ObjectAggs],
        files: &[String],
        rules: &CompiledRules,
        model: &Model,
    ) -> Result<Applied, String> {
        let (lateness, window_secs, max_evidence) =
            (self.lateness, self.window_secs, self.max_evidence);
        let step = |mut st: OpenWindows| {
            let mut absorbed = Absorbed::default();
            let mut duplicates = 0;
            for (id, aggs) in objects {
                let a = st.absorb(id, aggs.clone(), files, max_evidence);
                duplicates += usize::from(a.duplicate);
                absorbed.extend(a);
            }
            let findings = st.emit(&absorbed, rules, model);
            let closed = st.close(window_secs, lateness);
            (
                st,
                Applied {
                    findings,
                    closed,
                    duplicates,
                    generation: None,
                },
            )
        };
        let Some(snaps) = &self.snaps else {
            let (st, applied) = step(std::mem::take(&mut self.windows));
            self.windows = st;
            return Ok(applied);
        };
        let (loaded, ours) = (self.loaded, &self.windows);
        let mut result = None;
        let g = snaps
            .update(8, |base| {
                let cur = match base {
                    Some(b) if Some(b.generation) == loaded => ours.clone(),
                    Some(b) => OpenWindows::from_json(&b.body)?,
                    None => OpenWindows::new(),
                };
                let (st, applied) = step(cur);
                let body = st.to_json();
                result = Some((st, applied));
                Ok(body)
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some((st, mut applied)) = result else {
            return Err("window state: nothing computed".into());
        };
        self.windows = st;
        self.loaded = Some(g);
        applied.generation = Some(g);
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Representative;

    fn agg(start: i64, flows: u64, bytes: u64, file: u32) -> Agg {
        Agg {
            first_seen: Some(start),
            last_seen: Some(start + 60),
            flows,
            packets: flows * 2,
            bytes,
            attributed: 0,
            ports: vec![(443, flows)],
            evidence: vec![(file, 1)],
            rep: Representative {
                start,
                file,
                line: 1,
                src: crate::net::NO_IP,
                path: 0,
                proto: 6,
                resource: crate::enrich::model::NONE,
                svc: crate::enrich::model::NO_SYM,
                dst_region: crate::enrich::model::NO_SYM,
                conf: 0,
            },
        }
    }

    fn key(window: i64) -> FindingKey {
        FindingKey {
            rule: 0,
            eni: "eni-1".into(),
            dst: crate::net::NO_IP,
            window,
        }
    }

    #[test]
    fn split_window_sums_once_and_duplicates_add_nothing() {
        let mut w = OpenWindows::new();
        let files = vec!["a".to_string(), "b".to_string()];
        let a = w.absorb("a#1", [(key(3600), agg(3700, 2, 100, 0))], &files, 20);
        assert_eq!(a.touched.len(), 1);
        let b = w.absorb("b#1", [(key(3600), agg(3800, 3, 50, 1))], &files, 20);
        assert_eq!(b.touched.len(), 1);
        let again = w.absorb("a#1", [(key(3600), agg(3700, 2, 100, 0))], &files, 20);
        assert!(again.duplicate && again.touched.is_empty());
        assert_eq!(again.replayed.len(), 1);
        let (s, _) = w.get(&key(3600)).unwrap();
        assert_eq!((s.flows, s.bytes, s.packets), (5, 150, 10));
        // The table survives a round trip with the evidence names.
        let back = OpenWindows::from_json(&w.to_json()).unwrap();
        assert_eq!(back.files, vec!["a", "b"]);
        assert_eq!(back.get(&key(3600)).unwrap().0.flows, 5);
        assert!(back.counted("b#1"));
    }

    #[test]
    fn windows_close_on_event_time_and_late_data_updates_the_final_counters() {
        let mut w = OpenWindows::new();
        let files = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        w.absorb("a", [(key(0), agg(10, 1, 10, 0))], &files, 20);
        // The first window closes at watermark 3600 + 900: not at 4499, at 4500.
        w.absorb("b", [(key(3600), agg(4500 - 61, 1, 1, 1))], &files, 20);
        assert_eq!(w.close(3600, 900), 0);
        w.absorb("c", [(key(3600), agg(4440, 1, 1, 2))], &files, 20);
        assert_eq!(w.close(3600, 900), 1);
        assert_eq!((w.open_len(), w.closed_len()), (1, 1));
        // "a" is referenced by the closed window only; nothing is dropped from the table.
        assert_eq!(w.file_table_len(), 3);
        let late = w.absorb("d", [(key(0), agg(20, 4, 40, 0))], &["d".to_string()], 20);
        assert_eq!(late.touched.len(), 1);
        assert_eq!(w.get(&key(0)).unwrap().0.flows, 5);
        // Far too late: dropped, counted.
        w.absorb(
            "z",
            [(
                key(CLOSED_RETENTION * 3),
                agg(CLOSED_RETENTION * 3, 1, 1, 0),
            )],
            &files,
            20,
        );
        w.close(3600, 900);
        assert_eq!(w.closed_len(), 0, "retention passed");
        let t = w.absorb("y", [(key(0), agg(30, 1, 1, 0))], &files, 20);
        assert!(t.touched.is_empty());
        assert_eq!(w.too_late, 1);
        assert!(w.file_table_len() <= 2, "{:?}", w.files);
    }

    #[test]
    fn new_windows_over_the_cap_are_counted_and_open_ones_keep_counting() {
        let mut w = OpenWindows::new();
        let files = vec!["a".to_string()];
        w.absorb_capped("a", [(key(0), agg(10, 1, 10, 0))], &files, 20, 1);
        let b = w.absorb_capped(
            "b",
            [
                (key(0), agg(20, 2, 20, 0)),
                (key(3600), agg(3610, 5, 50, 0)),
            ],
            &files,
            20,
            1,
        );
        assert_eq!(w.open_len(), 1);
        assert_eq!(w.over_limit, 1);
        assert_eq!(b.touched.len(), 1);
        assert_eq!(w.get(&key(0)).unwrap().0.flows, 3);
        let back = OpenWindows::from_json(&w.to_json()).unwrap();
        assert_eq!(back.over_limit, 1, "persisted with the state");
    }
}
