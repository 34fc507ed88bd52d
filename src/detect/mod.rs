//! Detect: evaluates compiled rules over enriched batches and aggregates matches into findings
//! per rule, source ENI, destination and time window.

pub mod findings;
pub mod prefilter;
pub mod rules;

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{Array, RecordBatch};

pub use findings::{Finding, FindingResource};
pub use rules::{CompiledRules, RuleSet, Scope, Severity};

use crate::enrich::{Dir, Enriched, Enricher, Path, NONE};
use crate::net::{FastMap, IpKey};
use crate::schema::F;
use rules::Facts;

/// Aggregation key inside one worker: ENIs are the worker's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    rule: u16,
    eni: u32,
    dst: IpKey,
    window: i64,
}

/// The record that represents a finding: the earliest one, ties broken by file and line, so the
/// choice does not depend on how files were spread over threads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Representative {
    pub start: i64,
    pub file: u32,
    pub line: u64,
    pub src: IpKey,
    pub path: u8,
    pub proto: u8,
    pub resource: u32,
    pub svc: u16,
    pub dst_region: u16,
    /// Confidence of `resource` (`enrich::conf` codes); checkpoints written before it existed
    /// read as "none".
    #[serde(default = "no_conf")]
    pub conf: u8,
}

fn no_conf() -> u8 {
    crate::enrich::conf::NONE
}

/// Counters of one finding.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Agg {
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Records seen on another ENI (a NAT gateway's) and attributed to the source by address.
    pub attributed: u64,
    /// (port, flows); bounded.
    pub ports: Vec<(u16, u64)>,
    /// (file, line) of contributing records: the smallest `max_evidence` kept.
    pub evidence: Vec<(u32, u64)>,
    pub rep: Representative,
}

const MAX_PORTS: usize = 64;

impl Agg {
    fn add_port(&mut self, p: u16, flows: u64) {
        if let Some(e) = self.ports.iter_mut().find(|e| e.0 == p) {
            e.1 += flows;
        } else if self.ports.len() < MAX_PORTS {
            self.ports.push((p, flows));
        }
    }

    fn add_evidence(&mut self, ev: (u32, u64), max: usize) {
        self.evidence.push(ev);
        if self.evidence.len() >= max * 2 {
            self.trim_evidence(max);
        }
    }

    fn trim_evidence(&mut self, max: usize) {
        self.evidence.sort_unstable();
        self.evidence.dedup();
        self.evidence.truncate(max);
    }

    pub fn merge(&mut self, o: Agg, max_evidence: usize) {
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.flows += o.flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.attributed += o.attributed;
        for (p, n) in o.ports {
            self.add_port(p, n);
        }
        self.evidence.extend(o.evidence);
        self.trim_evidence(max_evidence);
        self.rep = self.rep.min(o.rep);
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Identity of a finding across workers (ENI by name).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct FindingKey {
    pub rule: u16,
    pub eni: String,
    pub dst: IpKey,
    pub window: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct DetectOptions {
    /// Aggregation window in seconds.
    pub window: i64,
    pub max_evidence: usize,
    /// Most distinct aggregates (rule, ENI, destination, window) one detector tracks
    /// ([`crate::limits::Limits::max_keys`]); records of new keys beyond it are counted in
    /// [`Detector::over_limit`], never grown into memory.
    pub max_keys: usize,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            window: 3600,
            max_evidence: 20,
            max_keys: crate::limits::get().max_keys,
        }
    }
}

/// One worker's detector.
pub struct Detector<'r> {
    rules: &'r CompiledRules,
    opts: DetectOptions,
    agg: FastMap<Key, Agg>,
    pub matches: u64,
    /// Matching records of new aggregates refused at `max_keys` (logged once).
    cap: crate::limits::KeyCap,
}

impl<'r> Detector<'r> {
    pub fn new(rules: &'r CompiledRules, opts: DetectOptions) -> Self {
        Detector {
            rules,
            opts,
            agg: FastMap::default(),
            matches: 0,
            cap: crate::limits::KeyCap::default(),
        }
    }

    /// Evaluates every rule on every in-scope egress-side record of the batch.
    pub fn observe(
        &mut self,
        batch: &RecordBatch,
        e: &Enriched,
        model: &crate::enrich::Model,
        file: u32,
    ) {
        let col = |f: F| batch.column(f.index());
        let (Some(action), Some(proto), Some(enc)) = (
            col(F::Action).as_primitive_opt::<UInt8Type>(),
            col(F::Protocol).as_primitive_opt::<UInt8Type>(),
            col(F::EncryptionStatus).as_primitive_opt::<UInt8Type>(),
        ) else {
            return;
        };
        let (Some(dport), Some(packets), Some(bytes), Some(start), Some(end), Some(line)) = (
            col(F::DstPort).as_primitive_opt::<UInt16Type>(),
            col(F::Packets).as_primitive_opt::<Int64Type>(),
            col(F::Bytes).as_primitive_opt::<Int64Type>(),
            col(F::Start).as_primitive_opt::<Int64Type>(),
            col(F::End).as_primitive_opt::<Int64Type>(),
            batch
                .column(crate::schema::COL_LINE)
                .as_primitive_opt::<UInt64Type>(),
        ) else {
            return;
        };
        let get8 = |a: &arrow_array::UInt8Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
        let window = self.opts.window.max(1);
        let n_rules = self.rules.rules.len();
        for i in 0..e.rows {
            let dir = e.dir[i];
            if dir == Dir::Unknown as u8 || e.src_eni[i] == NONE {
                continue;
            }
            let resource = e.resource[i];
            let act = get8(action, i).unwrap_or(0);
            let dp = (!dport.is_null(i)).then(|| dport.value(i));
            let encryption = get8(enc, i);
            let mut cand = match &self.rules.prefilter {
                Some(p) => p.candidates(
                    dir,
                    act,
                    e.path[i],
                    e.dst_class[i],
                    e.region_rel[i],
                    e.svc[i],
                    resource,
                    dp,
                    encryption.is_some(),
                ),
                None => u64::MAX,
            };
            if cand == 0 {
                continue;
            }
            let res = model.resources.get(resource as usize);
            let in_sagemaker = res.is_some_and(|r| r.sagemaker);
            let facts = Facts {
                dir,
                action: act,
                path: e.path[i],
                class: e.dst_class[i],
                svc: e.svc[i],
                region: e.region_rel[i],
                dport: dp,
                proto: get8(proto, i).unwrap_or(0),
                resource,
                isolation: res.and_then(|r| r.network_isolation),
                encryption,
            };
            // With the prefilter, visit its candidates; without (packs over 64 rules), all.
            let mut next_rule = 0usize;
            loop {
                let ri = if self.rules.prefilter.is_some() {
                    if cand == 0 {
                        break;
                    }
                    let r = cand.trailing_zeros() as usize;
                    cand &= cand - 1;
                    r
                } else {
                    if next_rule >= n_rules {
                        break;
                    }
                    next_rule += 1;
                    next_rule - 1
                };
                let rule = &self.rules.rules[ri];
                if rule.scope == Scope::Sagemaker && !in_sagemaker {
                    continue;
                }
                if !rule.when.matches(&facts, &self.rules.cleartext_ports)
                    || rule
                        .unless
                        .iter()
                        .any(|u| u.matches(&facts, &self.rules.cleartext_ports))
                {
                    continue;
                }
                self.matches += 1;
                let s = (!start.is_null(i)).then(|| start.value(i));
                let en = (!end.is_null(i)).then(|| end.value(i));
                let key = Key {
                    rule: ri as u16,
                    eni: e.src_eni[i],
                    dst: e.dst[i],
                    window: s.map_or(0, |t| t.div_euclid(window) * window),
                };
                let rep = Representative {
                    start: s.unwrap_or(i64::MAX),
                    file,
                    line: line.value(i),
                    src: e.src[i],
                    path: e.path[i],
                    proto: facts.proto,
                    resource,
                    svc: e.svc[i],
                    dst_region: e.dst_region[i],
                    conf: e.conf[i],
                };
                // Only a full table pays the extra probe; its existing keys keep counting.
                if self.agg.len() >= self.opts.max_keys && !self.agg.contains_key(&key) {
                    self.cap.refuse("rule aggregates", self.opts.max_keys);
                    continue;
                }
                let a = self.agg.entry(key).or_insert_with(|| Agg {
                    first_seen: None,
                    last_seen: None,
                    flows: 0,
                    packets: 0,
                    bytes: 0,
                    attributed: 0,
                    ports: Vec::new(),
                    evidence: Vec::new(),
                    rep,
                });
                a.first_seen = min_opt(a.first_seen, s);
                a.last_seen = a.last_seen.max(en.or(s));
                a.flows += 1;
                if e.observed_eni[i] != e.src_eni[i] {
                    a.attributed += 1;
                }
                if !packets.is_null(i) {
                    a.packets += packets.value(i).max(0) as u64;
                }
                if !bytes.is_null(i) {
                    a.bytes += bytes.value(i).max(0) as u64;
                }
                if let Some(p) = facts.dport {
                    a.add_port(p, 1);
                }
                a.add_evidence((file, line.value(i)), self.opts.max_evidence);
                if rep < a.rep {
                    a.rep = rep;
                }
            }
        }
    }

    /// Matching records refused because the aggregate table was full.
    pub fn over_limit(&self) -> u64 {
        self.cap.over_limit
    }

    /// Hands the worker's aggregates over with ENIs named, ready to merge with other workers'.
    pub fn finish(self, enricher: &Enricher<'_>) -> Vec<(FindingKey, Agg)> {
        let max = self.opts.max_evidence;
        self.agg
            .into_iter()
            .map(|(k, mut a)| {
                a.trim_evidence(max);
                let eni = enricher.eni_name(k.eni).unwrap_or("-").to_string();
                (
                    FindingKey {
                        rule: k.rule,
                        eni,
                        dst: k.dst,
                        window: k.window,
                    },
                    a,
                )
            })
            .collect()
    }
}

/// Merges workers' aggregates.
pub fn merge(parts: Vec<Vec<(FindingKey, Agg)>>, max_evidence: usize) -> HashMap<FindingKey, Agg> {
    let mut out: HashMap<FindingKey, Agg> = HashMap::new();
    for part in parts {
        for (k, a) in part {
            match out.get_mut(&k) {
                Some(existing) => existing.merge(a, max_evidence),
                None => {
                    out.insert(k, a);
                }
            }
        }
    }
    out
}

pub fn path_name(p: u8) -> &'static str {
    Path::from_u8(p).as_str()
}
