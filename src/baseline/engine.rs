//! The anomaly stage after the scan: observations (order-free aggregates) are absorbed into
//! open hours; hours close on event time (hour end + allowed lateness) and are scored in time
//! order against each profile's history, then folded into it. Open hours are also scored
//! without folding, so a continuous reader raises a spike before its hour closes and updates it
//! after. Everything here is keyed by names, not model indices, so the state carries over to
//! runs with another inventory.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::config::BaselineConfig;
use super::dest::{group_words, Dest, DestKind};
use super::family::{family_of, is_job};
use super::observe::{unpack_callback, Observations, HOUR};
use super::stats::{regularity, robust};
use crate::detect::findings::{finding_id, protocol_name, Evidence, Finding, FindingResource};
use crate::detect::Severity;
use crate::enrich::model::Model;
use crate::net::ip;
use crate::time::format_rfc3339;

/// Schema of the persisted state; a state of another schema is refused with a clear error.
pub const STATE_SCHEMA: u32 = 1;
const SLOT_RING: usize = 6;
const RUN_RING: usize = 32;
const DAY: i64 = 86_400;

/// A destination by name (services are model symbols inside a run).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NDest {
    pub kind: DestKind,
    pub key: String,
    pub group: String,
    /// Host or prefix (0 for classes), as an address string when set.
    pub addr: Option<String>,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    pub profile: String,
    pub hour: i64,
    pub dest: NDest,
    pub proto: u8,
    pub dport: u16,
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NCell {
    pub bytes: u64,
    pub flows: u64,
    pub packets: u64,
    pub b5: [u64; 12],
    pub first: i64,
    pub last: i64,
    pub eni: String,
    pub evidence: Vec<(String, u64)>,
}

impl NCell {
    fn merge(&mut self, o: &NCell) {
        if self.flows == 0 {
            *self = o.clone();
            return;
        }
        self.bytes += o.bytes;
        self.flows += o.flows;
        self.packets += o.packets;
        for (a, b) in self.b5.iter_mut().zip(o.b5) {
            *a += b;
        }
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        if o.eni < self.eni {
            self.eni.clone_from(&o.eni);
        }
        self.evidence.extend(o.evidence.iter().cloned());
        self.evidence.sort();
        self.evidence.dedup();
        self.evidence.truncate(super::observe::CELL_EVIDENCE);
    }
}

/// What a profile is, captured from the model when first seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub kind: String,
    pub name: String,
    pub arn: Option<String>,
    pub network_isolation: Option<bool>,
    pub family: String,
    pub job: bool,
    /// A job's end (Unix seconds) when the inventory knows it.
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    pub s: f64,
    pub since: i64,
    pub bytes: u64,
    pub usual: f64,
    pub hours: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub meta: Meta,
    pub first_seen: i64,
    pub last_seen: i64,
    /// An ENI of the resource (the smallest name seen): beaconing findings name it.
    #[serde(default)]
    pub eni: String,
    /// Long-lived: per group, 48 rings (weekday/weekend x hour of day) of hourly bytes.
    #[serde(default)]
    pub slots: BTreeMap<String, Rings>,
    #[serde(default)]
    pub cusum: BTreeMap<String, Cusum>,
    /// Long-lived: destination key -> last hour seen (jobs use their family's).
    #[serde(default)]
    pub dests: BTreeMap<String, i64>,
    #[serde(default)]
    pub ports: BTreeMap<String, i64>,
    /// Jobs: this run's bytes and hourly values per group.
    #[serde(default)]
    pub run: BTreeMap<String, (u64, Vec<f32>)>,
    /// Callback times (packed) per "host|port|proto".
    #[serde(default)]
    pub beacons: BTreeMap<String, Vec<u64>>,
}

/// A long-lived profile's hourly history of one group: 48 slots (weekday/weekend x hour of
/// day), each a ring of the last [`SLOT_RING`] hours in KiB. Stored flat and written as
/// base64, because this is most of a profile's state (1.2 KiB in memory, 1.7 KiB in JSON,
/// against 4.6 and 15 for nested float lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rings {
    /// Values filled per slot (at most `SLOT_RING`).
    len: Vec<u8>,
    /// Slot-major, newest last within a slot, KiB.
    kib: Vec<u32>,
}

impl Default for Rings {
    fn default() -> Self {
        Rings {
            len: vec![0; 48],
            kib: vec![0; 48 * SLOT_RING],
        }
    }
}

impl Rings {
    pub fn push(&mut self, slot: usize, bytes: u64) {
        if slot >= 48 {
            return;
        }
        let v = (bytes / 1024).min(u32::MAX as u64) as u32;
        let ring = &mut self.kib[slot * SLOT_RING..(slot + 1) * SLOT_RING];
        let n = self.len[slot] as usize;
        if n < SLOT_RING {
            ring[n] = v;
            self.len[slot] += 1;
        } else {
            ring.rotate_left(1);
            ring[SLOT_RING - 1] = v;
        }
    }

    /// The slot's values in bytes.
    pub fn values(&self, slot: usize) -> Vec<f64> {
        let n = self.len.get(slot).copied().unwrap_or(0) as usize;
        self.kib
            .get(slot * SLOT_RING..slot * SLOT_RING + n)
            .map_or_else(Vec::new, |v| v.iter().map(|&k| k as f64 * 1024.0).collect())
    }
}

#[derive(Serialize, Deserialize)]
struct RingsWire {
    len: Vec<u8>,
    kib: String,
}

impl Serialize for Rings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        let bytes: Vec<u8> = self.kib.iter().flat_map(|v| v.to_le_bytes()).collect();
        RingsWire {
            len: self.len.clone(),
            kib: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let w = RingsWire::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(w.kib.as_bytes())
            .map_err(serde::de::Error::custom)?;
        if w.len.len() != 48
            || bytes.len() != 48 * SLOT_RING * 4
            || w.len.iter().any(|&n| n as usize > SLOT_RING)
        {
            return Err(serde::de::Error::custom(
                "hour-of-week rings: expected 48 slots of at most 6 values",
            ));
        }
        Ok(Rings {
            len: w.len,
            kib: bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Family {
    pub first_seen: i64,
    pub last_seen: i64,
    pub runs: u32,
    /// Per group: totals of the last runs (0 for a run that did not use the group).
    pub totals: BTreeMap<String, Vec<f64>>,
    /// Per group: median hourly bytes of the last runs.
    pub rates: BTreeMap<String, Vec<f64>>,
    pub dests: BTreeMap<String, i64>,
    pub ports: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Raised {
    pub revision: u32,
    /// What the last emitted version said (an update is emitted only when it changes).
    pub fingerprint: (u64, u64, u64),
    /// Forgotten once event time passes this.
    pub expires: i64,
}

/// The persisted baseline state (one snapshot body).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub schema: u32,
    pub closed_until: i64,
    pub watermark: i64,
    pub open: Vec<(Slot, NCell)>,
    pub open_beacons: Vec<(String, i64, Vec<u64>)>,
    pub profiles: BTreeMap<String, Profile>,
    pub families: BTreeMap<String, Family>,
    pub raised: BTreeMap<String, Raised>,
    /// Hours any record was seen in (zeros are pushed only for hours with data).
    pub data_hours: BTreeSet<i64>,
    pub late_records: u64,
    /// Objects already absorbed (name#etag or name#len), so a redelivered object is not counted
    /// twice; bounded to the newest `MAX_SEEN`.
    #[serde(default)]
    pub seen_objects: BTreeMap<String, i64>,
}

const MAX_SEEN: usize = 20_000;

/// `anomaly` of a finding: why it fired. Field names are a contract (README "Baselines").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub observed: f64,
    pub baseline: f64,
    /// `bytes`, `flows`, `seconds` or `score`.
    pub unit: String,
    pub score: f64,
    pub threshold: f64,
    pub p95: Option<f64>,
    pub profile: String,
    pub profile_age_hours: f64,
    pub learning: bool,
    pub window_start: String,
    pub window_end: String,
    pub dst_class: String,
    /// Past values the baseline was computed from.
    pub samples: usize,
}

/// Counters for the summary (`--summary-json` `baseline`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BaselineSummary {
    pub profiles: u64,
    pub families: u64,
    pub profiles_learning: u64,
    pub families_learning: u64,
    pub anomalies: u64,
    pub hours_closed: u64,
    pub open_hours: u64,
    pub late_records: u64,
    pub callbacks_dropped: u64,
    pub duplicate_objects: u64,
}

#[derive(Clone)]
pub struct Engine {
    pub cfg: BaselineConfig,
    pub state: State,
    pub summary: BaselineSummary,
    open: BTreeMap<Slot, NCell>,
    open_beacons: BTreeMap<(String, i64), Vec<u64>>,
    /// Runs completed during this `advance`: their findings still need who they were.
    ended: BTreeMap<String, Meta>,
}

fn slot_of(hour: i64) -> usize {
    // 1970-01-01 was a Thursday: day 0 -> weekday index 3 (Monday = 0).
    let day = hour.div_euclid(DAY);
    let weekday = (day + 3).rem_euclid(7);
    let weekend = usize::from(weekday >= 5);
    weekend * 24 + (hour.rem_euclid(DAY) / HOUR) as usize
}

fn push_ring<T>(v: &mut Vec<T>, x: T, cap: usize) {
    v.push(x);
    if v.len() > cap {
        v.remove(0);
    }
}

fn bound_set(m: &mut BTreeMap<String, i64>, cap: usize) {
    while m.len() > cap {
        let Some(oldest) = m.iter().min_by_key(|(k, t)| (**t, (*k).clone())) else {
            break;
        };
        let k = oldest.0.clone();
        m.remove(&k);
    }
}

pub fn human_bytes(b: f64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < U.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// A raised anomaly before it becomes a [`Finding`].
struct Candidate {
    rule: usize,
    profile: String,
    target: String,
    window: (i64, i64),
    anomaly: Anomaly,
    title: String,
    cells: Vec<NCell>,
    dst_ip: Option<String>,
    dst_port: Option<u16>,
    proto: u8,
    path: String,
}

const DETECTORS: [&str; 5] = [
    "volume-spike",
    "sustained-egress",
    "new-destination",
    "new-port",
    "beaconing",
];

impl Engine {
    pub fn new(cfg: BaselineConfig, state: Option<State>) -> Result<Engine, String> {
        let state = match state {
            Some(s) if s.schema != STATE_SCHEMA => {
                return Err(format!(
                    "baseline state schema {} is not supported (this build reads {STATE_SCHEMA})",
                    s.schema
                ))
            }
            Some(s) => s,
            None => State {
                schema: STATE_SCHEMA,
                closed_until: i64::MIN,
                watermark: i64::MIN,
                ..Default::default()
            },
        };
        let mut e = Engine {
            cfg,
            open: BTreeMap::new(),
            open_beacons: BTreeMap::new(),
            ended: BTreeMap::new(),
            state,
            summary: BaselineSummary::default(),
        };
        for (k, c) in std::mem::take(&mut e.state.open) {
            e.open.insert(k, c);
        }
        for (p, h, v) in std::mem::take(&mut e.state.open_beacons) {
            e.open_beacons.insert((p, h), v);
        }
        Ok(e)
    }

    /// Whether an object was absorbed before (and records it): a redelivered object must not
    /// count twice in the baselines.
    pub fn first_time(&mut self, object: &str) -> bool {
        if self.state.seen_objects.contains_key(object) {
            self.summary.duplicate_objects += 1;
            return false;
        }
        let n = self.state.seen_objects.len() as i64;
        self.state.seen_objects.insert(object.to_string(), n);
        if self.state.seen_objects.len() > MAX_SEEN {
            bound_set(&mut self.state.seen_objects, MAX_SEEN);
        }
        true
    }

    /// Moves a run's observations into the open hours. Records of hours already closed are
    /// late: counted, folded into nothing, and said once at WARN.
    pub fn absorb(&mut self, obs: Observations, model: &Model, files: &[String]) {
        let mut meta_cache: BTreeMap<u32, Option<(String, Meta)>> = BTreeMap::new();
        let mut late = 0u64;
        for (k, c) in obs.cells {
            let Some((pkey, meta)) = meta_cache
                .entry(k.res)
                .or_insert_with(|| self.meta_of(model, k.res))
                .clone()
            else {
                continue;
            };
            if k.hour < self.state.closed_until {
                late += c.flows;
                continue;
            }
            self.state.data_hours.insert(k.hour);
            let prof = self
                .state
                .profiles
                .entry(pkey.clone())
                .or_insert_with(|| Profile {
                    meta: meta.clone(),
                    first_seen: c.first,
                    last_seen: c.last,
                    eni: String::new(),
                    slots: BTreeMap::new(),
                    cusum: BTreeMap::new(),
                    dests: BTreeMap::new(),
                    ports: BTreeMap::new(),
                    run: BTreeMap::new(),
                    beacons: BTreeMap::new(),
                });
            prof.first_seen = prof.first_seen.min(c.first);
            prof.last_seen = prof.last_seen.max(c.last);
            if meta.end.is_some() {
                prof.meta.end = meta.end;
            }
            let nd = name_dest(&k.dest, model);
            let eni_name = model
                .enis
                .get(c.eni as usize)
                .map_or_else(|| "-".to_string(), |e| e.id.to_string());
            if prof.eni.is_empty() || (eni_name != "-" && eni_name < prof.eni) {
                prof.eni.clone_from(&eni_name);
            }
            let slot = Slot {
                profile: pkey,
                hour: k.hour,
                dest: nd,
                proto: k.proto,
                dport: k.dport,
                path: crate::enrich::Path::from_u8(k.path).as_str().to_string(),
            };
            let cell = NCell {
                bytes: c.bytes,
                flows: c.flows,
                packets: c.packets,
                b5: c.b5,
                first: c.first,
                last: c.last,
                eni: eni_name,
                evidence: c
                    .evidence()
                    .map(|(f, l)| (files.get(f as usize).cloned().unwrap_or_default(), l))
                    .collect(),
            };
            self.open.entry(slot).or_default().merge(&cell);
        }
        for (k, v) in obs.beacons {
            let Some((pkey, _)) = meta_cache
                .entry(k.res)
                .or_insert_with(|| self.meta_of(model, k.res))
                .clone()
            else {
                continue;
            };
            if k.hour < self.state.closed_until {
                continue;
            }
            let target = format!(
                "{}|{}|{}",
                ip::to_std(k.dst),
                k.dport,
                protocol_name(k.proto)
            );
            let e = self
                .open_beacons
                .entry((format!("{pkey}\n{target}"), k.hour))
                .or_default();
            e.extend(v);
            self.summary.callbacks_dropped += super::observe::trim_callbacks(e);
        }
        self.summary.callbacks_dropped += obs.callbacks_dropped;
        if late > 0 {
            self.state.late_records += late;
            tracing::warn!(
                records = late,
                "records arrived after their hour closed (lateness {} min); they are counted in summary.baseline.late_records and not scored",
                self.cfg.lateness_minutes
            );
        }
        self.state.watermark = self.state.watermark.max(obs.max_time);
    }

    fn meta_of(&self, model: &Model, r: u32) -> Option<(String, Meta)> {
        let res = model.resources.get(r as usize)?;
        let family = family_of(model, r, &self.cfg.families)?;
        let kind = res.kind_str().to_string();
        let key = format!("{kind}/{}", res.name);
        Some((
            key,
            Meta {
                kind,
                name: res.name.to_string(),
                arn: res.arn.as_deref().map(str::to_string),
                network_isolation: res.network_isolation,
                family,
                job: is_job(res.kind_str()),
                end: res.window.map(|w| w.1).filter(|&e| e != i64::MAX),
            },
        ))
    }

    /// Closes every hour whose end plus lateness is at or before the watermark (all hours
    /// when `flush`), scores open hours without folding them, and returns the findings that
    /// are new or changed, each with its revision.
    pub fn advance(&mut self, flush: bool, model: &Model) -> Vec<Finding> {
        let lateness = self.cfg.lateness_minutes * 60;
        let limit = if flush {
            i64::MAX
        } else {
            self.state
                .watermark
                .saturating_sub(lateness)
                .div_euclid(HOUR)
                // Saturating: a fresh engine's watermark is i64::MIN, whose hour start is below
                // i64::MIN (found by fuzz/state: a debug build panicked, a release one wrapped
                // to a limit far in the future and would have closed every hour).
                .saturating_mul(HOUR)
                .saturating_sub(HOUR)
        };
        let mut out: BTreeMap<String, Candidate> = BTreeMap::new();
        // Hours to close: every hour with data, in time order, up to the limit.
        let hours: Vec<i64> = self
            .state
            .data_hours
            .iter()
            .copied()
            .filter(|&h| h >= self.state.closed_until && h <= limit)
            .collect();
        for h in hours {
            self.close_hour(h, &mut out);
            self.state.closed_until = h + HOUR;
            self.summary.hours_closed += 1;
            // Runs that ended by now join their family before later hours are scored, so the
            // next run of the family is compared with them from its first record.
            self.complete_idle_runs();
        }
        if flush {
            // A scan without state ends here: runs still open are complete as far as it knows.
            let open_jobs: Vec<String> = self
                .state
                .profiles
                .iter()
                .filter(|(_, p)| p.meta.job)
                .map(|(k, _)| k.clone())
                .collect();
            for k in open_jobs {
                self.complete_run(&k);
            }
        } else {
            // Peek at open hours: raise early, fold nothing.
            let open_hours: BTreeSet<i64> = self.open.keys().map(|s| s.hour).collect();
            for h in open_hours {
                // Scoring folds the hour's callbacks into the beacon rings: the open callbacks
                // are kept too, or every peek (each batch of a continuous run) would consume
                // them and an open hour's beaconing would never reach its profile.
                let snapshot = self.state.clone();
                let beacons = self.open_beacons.clone();
                let cells = self.take_hour(h, false);
                let mut peek = BTreeMap::new();
                self.score_hour(h, &cells, &mut peek, false);
                self.state = snapshot;
                self.open_beacons = beacons;
                for (id, c) in peek {
                    out.insert(id, c);
                }
            }
        }
        self.summary.open_hours = self
            .open
            .keys()
            .map(|s| s.hour)
            .collect::<BTreeSet<_>>()
            .len() as u64;
        self.expire_raised();
        self.finish(out, model)
    }

    fn take_hour(&mut self, h: i64, remove: bool) -> BTreeMap<String, Vec<(Slot, NCell)>> {
        let keys: Vec<Slot> = self
            .open
            .range(..)
            .filter(|(s, _)| s.hour == h)
            .map(|(s, _)| s.clone())
            .collect();
        let mut by: BTreeMap<String, Vec<(Slot, NCell)>> = BTreeMap::new();
        for k in keys {
            let c = if remove {
                self.open.remove(&k)
            } else {
                self.open.get(&k).cloned()
            };
            if let Some(c) = c {
                by.entry(k.profile.clone()).or_default().push((k, c));
            }
        }
        by
    }

    fn close_hour(&mut self, h: i64, out: &mut BTreeMap<String, Candidate>) {
        let cells = self.take_hour(h, true);
        self.score_hour(h, &cells, out, true);
    }

    fn learned(&self, p: &Profile, now: i64) -> (bool, f64) {
        let age_h = (now - p.first_seen).max(0) as f64 / 3600.0;
        if p.meta.job {
            let f = self.state.families.get(&p.meta.family);
            let runs = f.map_or(0, |f| f.runs);
            let fam_age = f.map_or(0.0, |f| (now - f.first_seen).max(0) as f64 / 3600.0);
            (runs >= self.cfg.learning_runs, fam_age.max(age_h))
        } else {
            (age_h >= (self.cfg.learning_days * 24) as f64, age_h)
        }
    }

    /// Scores hour `h` for every profile with cells in it (and folds it when `fold`); long-lived
    /// profiles without cells get zero hours.
    fn score_hour(
        &mut self,
        h: i64,
        cells: &BTreeMap<String, Vec<(Slot, NCell)>>,
        out: &mut BTreeMap<String, Candidate>,
        _fold: bool,
    ) {
        let end = h + HOUR;
        let slot = slot_of(h);
        let keys: Vec<String> = self.state.profiles.keys().cloned().collect();
        let empty = Vec::new();
        for pk in keys {
            let cs = cells.get(&pk).unwrap_or(&empty);
            let Some(p) = self.state.profiles.get(&pk) else {
                continue;
            };
            if cs.is_empty() && (p.meta.job || p.first_seen > end) {
                continue;
            }
            let (learned, age_h) = self.learned(p, end);
            let family = p.meta.family.clone();
            let job = p.meta.job;
            // Per group totals.
            // (bytes, peak 5 min, cells, slot of the largest cell)
            let mut groups: BTreeMap<String, (u64, u64, Vec<NCell>, &Slot)> = BTreeMap::new();
            for (s, c) in cs {
                let g = groups
                    .entry(s.dest.group.clone())
                    .or_insert((0, 0, Vec::new(), s));
                let largest = g.2.iter().map(|x| x.bytes).max().unwrap_or(0);
                if c.bytes > largest {
                    g.3 = s;
                }
                g.0 += c.bytes;
                g.2.push(c.clone());
            }
            for g in groups.values_mut() {
                let mut b5 = [0u64; 12];
                for c in &g.2 {
                    for (a, b) in b5.iter_mut().zip(c.b5) {
                        *a += b;
                    }
                }
                g.1 = b5.into_iter().max().unwrap_or(0);
            }
            let known_groups: BTreeSet<String> = if job {
                self.state
                    .families
                    .get(&family)
                    .map(|f| f.totals.keys().cloned().collect())
                    .unwrap_or_default()
            } else {
                p.slots.keys().cloned().collect()
            };
            let all_groups: BTreeSet<String> = known_groups
                .union(&groups.keys().cloned().collect())
                .cloned()
                .collect();
            let vcfg = self.cfg.volume_spike.clone();
            let scfg = self.cfg.sustained_egress.clone();
            for g in &all_groups {
                let (x, peak5, gcells, rep) = match groups.get(g) {
                    Some((x, p5, c, s)) => (*x, *p5, c.clone(), Some((*s).clone())),
                    None => (0, 0, Vec::new(), None),
                };
                let p = &self.state.profiles[&pk];
                // Baseline values.
                let (ring, usual_rate): (Vec<f64>, Vec<f64>) = if job {
                    let f = self.state.families.get(&family);
                    (
                        f.and_then(|f| f.totals.get(g)).cloned().unwrap_or_default(),
                        f.and_then(|f| f.rates.get(g)).cloned().unwrap_or_default(),
                    )
                } else {
                    let r: Vec<f64> = p.slots.get(g).map(|s| s.values(slot)).unwrap_or_default();
                    (r.clone(), r)
                };
                let observed = if job {
                    p.run.get(g).map_or(0, |r| r.0) + x
                } else {
                    x
                };
                let run_start = if job {
                    p.first_seen.div_euclid(HOUR) * HOUR
                } else {
                    h
                };
                // volume-spike
                if vcfg.rule.enabled && learned && ring.len() >= vcfg.min_samples && x > 0 {
                    let (m, d, p95) = robust(&ring);
                    let thr = (m + vcfg.mad_k * 1.4826 * d)
                        .max(vcfg.min_ratio * m)
                        .max(m + vcfg.min_bytes as f64);
                    if observed as f64 > thr {
                        let scope = if job { "in this run" } else { "in 1 h" };
                        let usual = if job { "a usual run" } else { "usual" };
                        let title = format!(
                            "{} {} sent {} to {} {scope}; {usual} {} (p95 {}){}",
                            p.meta.kind,
                            p.meta.name,
                            human_bytes(observed as f64),
                            group_words(g),
                            human_bytes(m),
                            human_bytes(p95),
                            if !job && peak5 as f64 > thr {
                                format!(", {} in one 5-minute bucket", human_bytes(peak5 as f64))
                            } else {
                                String::new()
                            }
                        );
                        let cells = gcells.clone();
                        push_candidate(
                            out,
                            Candidate {
                                rule: 0,
                                profile: pk.clone(),
                                target: g.clone(),
                                window: (run_start, end),
                                anomaly: Anomaly {
                                    observed: observed as f64,
                                    baseline: m,
                                    unit: "bytes".into(),
                                    score: observed as f64 / thr,
                                    threshold: thr,
                                    p95: Some(p95),
                                    profile: if job { family.clone() } else { pk.clone() },
                                    profile_age_hours: age_h,
                                    learning: false,
                                    window_start: format_rfc3339(run_start),
                                    window_end: format_rfc3339(end),
                                    dst_class: g.clone(),
                                    samples: ring.len(),
                                },
                                title,
                                cells,
                                dst_ip: None,
                                dst_port: None,
                                proto: rep.as_ref().map_or(0, |s| s.proto),
                                path: rep.as_ref().map_or("unknown".into(), |s| s.path.clone()),
                            },
                        );
                    }
                }
                // sustained-egress (CUSUM over hourly bytes / usual).
                let usual = if usual_rate.len() >= vcfg.min_samples {
                    Some(robust(&usual_rate).0.max(scfg.min_hourly_bytes as f64))
                } else {
                    None
                };
                if let (true, Some(usual)) = (scfg.rule.enabled && learned, usual) {
                    let r = (x as f64 / usual).min(scfg.max_ratio);
                    let mut cs = p.cusum.get(g).cloned().unwrap_or_default();
                    let s = (cs.s + r - scfg.drift).max(0.0);
                    if s > 0.0 {
                        if cs.s == 0.0 {
                            cs = Cusum {
                                s: 0.0,
                                since: h,
                                bytes: 0,
                                usual: 0.0,
                                hours: 0,
                            };
                        }
                        cs.s = s;
                        cs.bytes += x;
                        cs.usual += usual;
                        cs.hours += 1;
                    } else {
                        cs = Cusum::default();
                    }
                    if cs.s >= scfg.threshold {
                        let title = format!(
                            "{} {} has sent {} to {} over {} h, {:.1}x its usual {} per hour",
                            p.meta.kind,
                            p.meta.name,
                            human_bytes(cs.bytes as f64),
                            group_words(g),
                            cs.hours,
                            cs.bytes as f64 / cs.usual.max(1.0),
                            human_bytes(usual),
                        );
                        push_candidate(
                            out,
                            Candidate {
                                rule: 1,
                                profile: pk.clone(),
                                target: g.clone(),
                                window: (cs.since, end),
                                anomaly: Anomaly {
                                    observed: cs.bytes as f64,
                                    baseline: cs.usual,
                                    unit: "bytes".into(),
                                    score: cs.s / scfg.threshold,
                                    threshold: scfg.threshold,
                                    p95: None,
                                    profile: if job { family.clone() } else { pk.clone() },
                                    profile_age_hours: age_h,
                                    learning: false,
                                    window_start: format_rfc3339(cs.since),
                                    window_end: format_rfc3339(end),
                                    dst_class: g.clone(),
                                    samples: usual_rate.len(),
                                },
                                title,
                                cells: gcells.clone(),
                                dst_ip: None,
                                dst_port: None,
                                proto: rep.as_ref().map_or(0, |s| s.proto),
                                path: rep.as_ref().map_or("unknown".into(), |s| s.path.clone()),
                            },
                        );
                    }
                    if let Some(p) = self.state.profiles.get_mut(&pk) {
                        if cs == Cusum::default() {
                            p.cusum.remove(g);
                        } else {
                            p.cusum.insert(g.clone(), cs);
                        }
                    }
                }
                // Fold.
                if let Some(p) = self.state.profiles.get_mut(&pk) {
                    if job {
                        if x > 0 {
                            let e = p.run.entry(g.clone()).or_default();
                            e.0 += x;
                            e.1.push(x as f32);
                        }
                    } else {
                        if self.state.data_hours.contains(&h) {
                            p.slots.entry(g.clone()).or_default().push(slot, x);
                        }
                    }
                }
            }
            // new-destination and new-port.
            let dcfg = self.cfg.new_destination.clone();
            let pcfg = self.cfg.new_port.clone();
            let mut dest_bytes: BTreeMap<String, (u64, Vec<NCell>, Slot)> = BTreeMap::new();
            let mut port_flows: BTreeMap<String, (u64, Vec<NCell>, Slot)> = BTreeMap::new();
            for (s, c) in cs {
                let e = dest_bytes
                    .entry(s.dest.key.clone())
                    .or_insert((0, Vec::new(), s.clone()));
                e.0 += c.bytes;
                e.1.push(c.clone());
                if s.dport != 0 && s.dest.kind != DestKind::S3Gateway {
                    let pk2 = format!("{}/{}", protocol_name(s.proto), s.dport);
                    let e = port_flows.entry(pk2).or_insert((0, Vec::new(), s.clone()));
                    e.0 += c.flows;
                    e.1.push(c.clone());
                }
            }
            let p = &self.state.profiles[&pk];
            let (known_d, known_p) = if job {
                let f = self.state.families.get(&family);
                (
                    f.map(|f| f.dests.clone()).unwrap_or_default(),
                    f.map(|f| f.ports.clone()).unwrap_or_default(),
                )
            } else {
                (p.dests.clone(), p.ports.clone())
            };
            let prof_label = if job { family.clone() } else { pk.clone() };
            if learned && dcfg.rule.enabled {
                for (k, (b, cells_d, s)) in &dest_bytes {
                    let fresh = known_d
                        .get(k)
                        .is_none_or(|&t| h - t > dcfg.forget_after_days * DAY);
                    if fresh && *b >= dcfg.min_bytes {
                        let title = format!(
                            "{} {} sent {} to {}, a destination {} has not used{}",
                            p.meta.kind,
                            p.meta.name,
                            human_bytes(*b as f64),
                            describe_dest(&s.dest),
                            if job {
                                format!("family {}", family)
                            } else {
                                "it".to_string()
                            },
                            if job {
                                format!(
                                    " in {} runs",
                                    self.state.families.get(&family).map_or(0, |f| f.runs)
                                )
                            } else {
                                format!(" in {:.0} days", age_h / 24.0)
                            }
                        );
                        push_candidate(
                            out,
                            Candidate {
                                rule: 2,
                                profile: pk.clone(),
                                target: k.clone(),
                                window: (h, end),
                                anomaly: Anomaly {
                                    observed: *b as f64,
                                    baseline: 0.0,
                                    unit: "bytes".into(),
                                    score: *b as f64 / dcfg.min_bytes.max(1) as f64,
                                    threshold: dcfg.min_bytes as f64,
                                    p95: None,
                                    profile: prof_label.clone(),
                                    profile_age_hours: age_h,
                                    learning: false,
                                    window_start: format_rfc3339(h),
                                    window_end: format_rfc3339(end),
                                    dst_class: k.clone(),
                                    samples: known_d.len(),
                                },
                                title,
                                cells: cells_d.clone(),
                                dst_ip: host_of(&s.dest),
                                dst_port: (s.dest.port != 0).then_some(s.dest.port),
                                proto: s.proto,
                                path: s.path.clone(),
                            },
                        );
                    }
                }
            }
            if learned && pcfg.rule.enabled {
                for (k, (flows, cells_p, s)) in &port_flows {
                    let fresh = known_p
                        .get(k)
                        .is_none_or(|&t| h - t > pcfg.forget_after_days * DAY);
                    if fresh {
                        let title = format!(
                            "{} {} used {} to {} for the first time ({} flows)",
                            p.meta.kind,
                            p.meta.name,
                            k,
                            describe_dest(&s.dest),
                            flows
                        );
                        push_candidate(
                            out,
                            Candidate {
                                rule: 3,
                                profile: pk.clone(),
                                target: k.clone(),
                                window: (h, end),
                                anomaly: Anomaly {
                                    observed: *flows as f64,
                                    baseline: 0.0,
                                    unit: "flows".into(),
                                    score: *flows as f64,
                                    threshold: 1.0,
                                    p95: None,
                                    profile: prof_label.clone(),
                                    profile_age_hours: age_h,
                                    learning: false,
                                    window_start: format_rfc3339(h),
                                    window_end: format_rfc3339(end),
                                    dst_class: s.dest.key.clone(),
                                    samples: known_p.len(),
                                },
                                title,
                                cells: cells_p.clone(),
                                dst_ip: host_of(&s.dest),
                                dst_port: Some(s.dport),
                                proto: s.proto,
                                path: s.path.clone(),
                            },
                        );
                    }
                }
            }
            // Fold destinations and ports (into the family for jobs).
            let maxd = dcfg.max_destinations;
            let maxp = pcfg.max_ports;
            let (dset, pset) = if job {
                let f = self
                    .state
                    .families
                    .entry(family.clone())
                    .or_insert_with(|| Family {
                        first_seen: h,
                        last_seen: end,
                        ..Default::default()
                    });
                f.last_seen = f.last_seen.max(end);
                (&mut f.dests, &mut f.ports)
            } else {
                let Some(p) = self.state.profiles.get_mut(&pk) else {
                    continue;
                };
                (&mut p.dests, &mut p.ports)
            };
            for k in dest_bytes.keys() {
                dset.insert(k.clone(), h);
            }
            for k in port_flows.keys() {
                pset.insert(k.clone(), h);
            }
            bound_set(dset, maxd);
            bound_set(pset, maxp);
            // Beaconing.
            self.beacons(&pk, h, learned, age_h, cs, out);
        }
    }

    fn beacons(
        &mut self,
        pk: &str,
        h: i64,
        learned: bool,
        age_h: f64,
        cs: &[(Slot, NCell)],
        out: &mut BTreeMap<String, Candidate>,
    ) {
        let bcfg = self.cfg.beaconing.clone();
        let prefix = format!("{pk}\n");
        let fresh: Vec<((String, i64), Vec<u64>)> = self
            .open_beacons
            .range((prefix.clone(), i64::MIN)..)
            .take_while(|((k, _), _)| k.starts_with(&prefix))
            .filter(|((_, hh), _)| *hh == h)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let horizon = h + HOUR - bcfg.window_hours * HOUR;
        let Some(p) = self.state.profiles.get_mut(pk) else {
            return;
        };
        for ((k, hh), v) in fresh {
            self.open_beacons.remove(&(k.clone(), hh));
            let target = k[prefix.len()..].to_string();
            let ring = p.beacons.entry(target.clone()).or_default();
            ring.extend(v);
            ring.sort_unstable();
            ring.dedup();
            ring.retain(|&c| unpack_callback(c).0 >= horizon);
            while ring.len() > bcfg.max_callbacks {
                ring.remove(0);
            }
        }
        p.beacons
            .retain(|_, r| r.last().is_some_and(|&c| unpack_callback(c).0 >= horizon));
        if !(learned && bcfg.rule.enabled) {
            return;
        }
        let kind = p.meta.kind.clone();
        let name = p.meta.name.clone();
        let eni = p.eni.clone();
        for (target, ring) in &p.beacons {
            if !ring.iter().any(|&c| unpack_callback(c).0 >= h) {
                continue;
            }
            // Callbacks closer than the minimum interval are one burst.
            let mut times: Vec<(i64, u64)> = Vec::new();
            for &c in ring {
                let (t, b) = unpack_callback(c);
                match times.last_mut() {
                    Some(last) if ((t - last.0) as f64) < bcfg.min_interval_seconds => last.1 += b,
                    _ => times.push((t, b)),
                }
            }
            if times.len() < bcfg.min_callbacks {
                continue;
            }
            let span = times[times.len() - 1].0 - times[0].0;
            if span < bcfg.min_span_minutes * 60 {
                continue;
            }
            let gaps: Vec<f64> = times.windows(2).map(|w| (w[1].0 - w[0].0) as f64).collect();
            let sizes: Vec<f64> = times.iter().map(|t| t.1 as f64).collect();
            let ts = regularity(&gaps);
            let ds = regularity(&sizes);
            let score = (ts + ds) / 2.0;
            if score < bcfg.threshold {
                continue;
            }
            let (med, mad, _) = robust(&gaps);
            let mut parts = target.split('|');
            let (host, port, proto) = (
                parts.next().unwrap_or("-").to_string(),
                parts.next().and_then(|p| p.parse::<u16>().ok()),
                parts.next().unwrap_or("tcp").to_string(),
            );
            let day = h.div_euclid(DAY) * DAY;
            let title = format!(
                "{kind} {name} called {host}:{} every {:.0} s (±{:.0} s), {} times over {:.1} h",
                port.map_or("-".to_string(), |p| p.to_string()),
                med,
                mad,
                times.len(),
                span as f64 / 3600.0
            );
            push_candidate(
                out,
                Candidate {
                    rule: 4,
                    profile: pk.to_string(),
                    target: target.clone(),
                    window: (day, h + HOUR),
                    anomaly: Anomaly {
                        observed: score,
                        baseline: med,
                        unit: "score".into(),
                        score: score / bcfg.threshold,
                        threshold: bcfg.threshold,
                        p95: None,
                        profile: pk.to_string(),
                        profile_age_hours: age_h,
                        learning: false,
                        window_start: format_rfc3339(times[0].0),
                        window_end: format_rfc3339(h + HOUR),
                        dst_class: format!("host:{host}"),
                        samples: times.len(),
                    },
                    title,
                    cells: vec![NCell {
                        bytes: sizes.iter().sum::<f64>() as u64,
                        flows: ring.len() as u64,
                        first: times[0].0,
                        last: times[times.len() - 1].0,
                        // The ENI that called the host this hour (else the profile's busiest),
                        // so the finding carries its attribution like the other anomalies.
                        eni: cs
                            .iter()
                            .filter(|(_, c)| !c.eni.is_empty())
                            .max_by_key(|(s, c)| (s.dest.addr.as_deref() == Some(&host), c.bytes))
                            .map(|(_, c)| c.eni.clone())
                            .unwrap_or_else(|| eni.clone()),
                        ..Default::default()
                    }],
                    dst_ip: Some(host),
                    dst_port: port,
                    proto: match proto.as_str() {
                        "udp" => 17,
                        _ => 6,
                    },
                    path: "unknown".into(),
                },
            );
        }
    }

    /// Ends job runs idle past `run_idle_minutes` (or past their known end) in event time.
    fn complete_idle_runs(&mut self) {
        let idle = self.cfg.run_idle_minutes * 60;
        let now = self.state.closed_until;
        let done: Vec<String> = self
            .state
            .profiles
            .iter()
            .filter(|(k, p)| {
                p.meta.job
                    && (p.last_seen + idle < now || p.meta.end.is_some_and(|e| e + HOUR < now))
                    && !self.open.keys().any(|s| &s.profile == *k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in done {
            self.complete_run(&k);
        }
        // Long-lived profiles idle past forget-after are forgotten.
        let forget = self.cfg.forget_after_days * DAY;
        self.state
            .profiles
            .retain(|_, p| p.meta.job || p.last_seen + forget >= now);
        self.state
            .families
            .retain(|_, f| f.last_seen + forget >= now);
    }

    /// Folds a finished run into its family and forgets the run's own state.
    fn complete_run(&mut self, pk: &str) {
        let Some(p) = self.state.profiles.remove(pk) else {
            return;
        };
        self.ended.insert(pk.to_string(), p.meta.clone());
        let f = self
            .state
            .families
            .entry(p.meta.family.clone())
            .or_insert_with(|| Family {
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                ..Default::default()
            });
        f.first_seen = f.first_seen.min(p.first_seen);
        f.last_seen = f.last_seen.max(p.last_seen);
        let groups: BTreeSet<String> = f.totals.keys().chain(p.run.keys()).cloned().collect();
        for g in groups {
            let (total, hours) = p.run.get(&g).cloned().unwrap_or_default();
            let ring = f.totals.entry(g.clone()).or_default();
            // A group this family never used before gets zeros for its earlier runs.
            while ring.len() < (f.runs as usize).min(RUN_RING) {
                ring.push(0.0);
            }
            push_ring(ring, total as f64, RUN_RING);
            if !hours.is_empty() {
                let hv: Vec<f64> = hours.iter().map(|&x| x as f64).collect();
                push_ring(f.rates.entry(g).or_default(), robust(&hv).0, RUN_RING);
            }
        }
        f.runs += 1;
    }

    fn expire_raised(&mut self) {
        let now = self.state.watermark;
        self.state.raised.retain(|_, r| r.expires >= now);
    }

    /// Turns candidates into findings with revisions; only new or changed ones are returned.
    fn finish(&mut self, out: BTreeMap<String, Candidate>, model: &Model) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (_, c) in out {
            let det = &self.cfg_rule(c.rule);
            let id = finding_id(
                &det.0,
                &format!("profile:{}", c.profile),
                &c.target,
                c.window.0,
            );
            let flows: u64 = c.cells.iter().map(|x| x.flows).sum();
            let bytes: u64 = c.cells.iter().map(|x| x.bytes).sum();
            let fp = (c.anomaly.observed as u64, flows, bytes);
            let expires = c.window.1 + 2 * DAY;
            let revision = match self.state.raised.get_mut(&id) {
                Some(r) if r.fingerprint == fp => continue,
                Some(r) => {
                    r.revision += 1;
                    r.fingerprint = fp;
                    r.expires = r.expires.max(expires);
                    r.revision
                }
                None => {
                    self.state.raised.insert(
                        id.clone(),
                        Raised {
                            revision: 1,
                            fingerprint: fp,
                            expires,
                        },
                    );
                    1
                }
            };
            let meta = self
                .state
                .profiles
                .get(&c.profile)
                .map(|p| p.meta.clone())
                .or_else(|| self.ended.get(&c.profile).cloned());
            let eni = c
                .cells
                .iter()
                .filter(|x| !x.eni.is_empty())
                .max_by_key(|x| x.bytes)
                .map_or_else(|| "-".to_string(), |x| x.eni.clone());
            let eni_info = model
                .eni_by_id
                .get(eni.as_str())
                .and_then(|&e| model.enis.get(e as usize));
            let mut evidence: Vec<(String, u64)> = c
                .cells
                .iter()
                .flat_map(|x| x.evidence.iter().cloned())
                .collect();
            evidence.sort();
            evidence.dedup();
            evidence.truncate(20);
            let first = c
                .cells
                .iter()
                .map(|x| x.first)
                .min()
                .filter(|&t| t != i64::MAX);
            let last = c
                .cells
                .iter()
                .map(|x| x.last)
                .max()
                .filter(|&t| t != i64::MIN);
            let (profile_kind, profile_name) =
                c.profile.split_once('/').unwrap_or(("", &c.profile));
            let resource = Some(FindingResource {
                kind: meta
                    .as_ref()
                    .map_or(profile_kind.to_string(), |m| m.kind.clone()),
                name: meta
                    .as_ref()
                    .map_or(profile_name.to_string(), |m| m.name.clone()),
                arn: meta.as_ref().and_then(|m| m.arn.clone()),
                network_isolation: meta.as_ref().and_then(|m| m.network_isolation),
                family: meta.as_ref().map(|m| m.family.clone()),
            });
            findings.push(Finding {
                id,
                rule: det.0.clone(),
                category: DETECTORS[c.rule].to_string(),
                severity: det.1,
                title: c.title,
                description: description(c.rule).to_string(),
                control: "behavioural-baseline".to_string(),
                eni,
                vpc_id: eni_info
                    .and_then(|e| model.vpcs.get(e.vpc as usize))
                    .map(|v| v.id.to_string()),
                subnet_id: eni_info
                    .and_then(|e| model.subnets.get(e.subnet as usize))
                    .map(|s| s.id.to_string()),
                src_ip: eni_info
                    .and_then(|e| e.ips.first())
                    .map(|&a| ip::to_std(a).to_string()),
                dst_ip: c.dst_ip,
                dst_port: c.dst_port,
                dst_ports: c.dst_port.into_iter().collect(),
                protocol: c.proto,
                protocol_name: protocol_name(c.proto).to_string(),
                path: c.path,
                dst_service: None,
                dst_region: None,
                resource,
                attribution: eni_info.map(|e| crate::detect::findings::eni_attribution(model, e)),
                window_start: Some(format_rfc3339(c.window.0)),
                first_seen: first.map(format_rfc3339),
                last_seen: last.map(format_rfc3339),
                flows,
                packets: c.cells.iter().map(|x| x.packets).sum(),
                bytes,
                flows_seen_on_nat: 0,
                evidence_omitted: flows.saturating_sub(evidence.len() as u64),
                evidence: evidence
                    .into_iter()
                    .map(|(f, line)| Evidence {
                        file: f.as_str().into(),
                        line,
                    })
                    .collect(),
                activity: if revision == 1 {
                    crate::detect::findings::Activity::New
                } else {
                    crate::detect::findings::Activity::Update
                },
                revision,
                dst_class: Some(c.anomaly.dst_class.clone()),
                anomaly: Some(c.anomaly),
            });
            self.summary.anomalies += 1;
        }
        self.ended.clear();
        findings
    }

    fn cfg_rule(&self, i: usize) -> (String, Severity) {
        let r = match i {
            0 => &self.cfg.volume_spike.rule,
            1 => &self.cfg.sustained_egress.rule,
            2 => &self.cfg.new_destination.rule,
            3 => &self.cfg.new_port.rule,
            _ => &self.cfg.beaconing.rule,
        };
        (r.id.clone(), r.severity)
    }

    /// The state to persist (open hours included).
    pub fn to_state(&self) -> State {
        let mut s = self.state.clone();
        s.open = self
            .open
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        s.open_beacons = self
            .open_beacons
            .iter()
            .map(|((k, h), v)| (k.clone(), *h, v.clone()))
            .collect();
        // Hours with data are needed only from the oldest open hour on.
        let keep_from = self.state.closed_until.saturating_sub(8 * DAY);
        s.data_hours.retain(|&h| h >= keep_from);
        s
    }

    /// Profiles and families still learning, for the summary.
    pub fn fill_summary(&mut self) {
        let now = self.state.watermark;
        let mut learning = 0;
        for p in self.state.profiles.values() {
            if !self.learned(p, now).0 {
                learning += 1;
            }
        }
        self.summary.profiles = self.state.profiles.len() as u64;
        self.summary.families = self.state.families.len() as u64;
        self.summary.profiles_learning = learning;
        self.summary.families_learning = self
            .state
            .families
            .values()
            .filter(|f| f.runs < self.cfg.learning_runs)
            .count() as u64;
        self.summary.late_records = self.state.late_records;
    }
}

/// Keeps the candidate with the larger observed value when two hours raise the same id (a
/// job's run total grows hour by hour: the last one is the whole story).
fn push_candidate(out: &mut BTreeMap<String, Candidate>, c: Candidate) {
    let key = format!("{}\n{}\n{}\n{}", c.rule, c.profile, c.target, c.window.0);
    match out.get(&key) {
        Some(old) if old.window.1 > c.window.1 => {}
        _ => {
            out.insert(key, c);
        }
    }
}

fn name_dest(d: &Dest, model: &Model) -> NDest {
    NDest {
        kind: d.kind,
        key: d.key(model),
        group: d.group(model),
        addr: (d.addr != 0).then(|| ip::to_std(d.addr).to_string()),
        port: d.port,
    }
}

fn host_of(d: &NDest) -> Option<String> {
    match d.kind {
        DestKind::VpcHost | DestKind::Peering | DestKind::InterfaceEndpoint => d.addr.clone(),
        DestKind::Dns => d.addr.clone(),
        _ => None,
    }
}

fn describe_dest(d: &NDest) -> String {
    match d.kind {
        DestKind::Internet => format!(
            "internet network {}",
            d.key.strip_prefix("internet:").unwrap_or(&d.key)
        ),
        _ => d.key.clone(),
    }
}

fn description(rule: usize) -> &'static str {
    match rule {
        0 => "Egress bytes to one destination class are far above this profile's history (median and MAD of the same hour-of-week slot for long-lived resources, of earlier runs' totals for jobs).",
        1 => "Egress stayed several times above its usual hourly level for hours (CUSUM over hourly bytes): low-and-slow transfer that no single hour shows.",
        2 => "A destination class (internet /24 or /48, a VPC or peered host:port, an AWS service, an external resolver) the profile had not used past its learning period.",
        3 => "A destination protocol and port the profile had not used past its learning period.",
        _ => "Regular callbacks to one host (RITA-style regularity of intervals and sizes over new connections).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_keep_the_newest_values_per_slot_and_round_trip() {
        let mut r = Rings::default();
        for i in 0..(SLOT_RING as u64 + 2) {
            r.push(5, (i + 1) * 1024 * 1024);
        }
        r.push(47, 2048);
        r.push(48, 1); // out of range: ignored
        let v = r.values(5);
        assert_eq!(v.len(), SLOT_RING);
        assert_eq!(v[0], 3.0 * 1024.0 * 1024.0);
        assert_eq!(v[SLOT_RING - 1], (SLOT_RING as f64 + 2.0) * 1024.0 * 1024.0);
        assert_eq!(r.values(47), vec![2048.0]);
        assert!(r.values(0).is_empty());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Rings>(&json).unwrap(), r);
        let bad = json.replace("\"len\":[0", "\"len\":[9");
        assert!(serde_json::from_str::<Rings>(&bad).is_err());
    }

    #[test]
    fn slots_split_weekdays_from_weekends() {
        // 2026-10-05 was a Monday, 2026-10-10 a Saturday.
        let monday = crate::time::parse_rfc3339("2026-10-05T09:00:00Z").unwrap();
        let saturday = crate::time::parse_rfc3339("2026-10-10T09:00:00Z").unwrap();
        assert_eq!(slot_of(monday), 9);
        assert_eq!(slot_of(saturday), 24 + 9);
        assert_eq!(slot_of(monday + 4 * DAY), 9);
    }

    #[test]
    fn human_bytes_reads_at_a_glance() {
        assert_eq!(human_bytes(41.2e9), "41.2 GB");
        assert_eq!(human_bytes(999.0), "999 B");
    }
}
