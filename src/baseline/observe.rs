//! The anomaly stage's part of the scan workers: egress bytes per (resource, destination
//! class, protocol, port, hour) with 5-minute sub-totals, and callback times for beaconing.
//! Aggregates are sums, minima and sets, so they merge in any order: what is scored never
//! depends on how objects were split over threads, batches or runs.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{Array, RecordBatch};
use serde::{Deserialize, Serialize};

use super::dest::{classify, Dest};
use crate::enrich::model::{Model, ResourceKind};
use crate::enrich::{Dir, Enriched, NONE};
use crate::net::FastMap;
use crate::schema::F;

pub const HOUR: i64 = 3600;

/// Aggregation key. `res` and `eni` index the shared model (unknown ENIs are not profiled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    pub res: u32,
    pub hour: i64,
    pub dest: Dest,
    pub proto: u8,
    pub dport: u16,
    pub path: u8,
}

/// Evidence kept per cell: the smallest (file, line) pairs.
pub const CELL_EVIDENCE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub bytes: u64,
    pub flows: u64,
    pub packets: u64,
    /// Bytes per 5-minute bucket of the hour.
    pub b5: [u64; 12],
    pub first: i64,
    pub last: i64,
    /// The smallest model ENI index seen: the finding's ENI (deterministic).
    pub eni: u32,
    pub evidence: [(u32, u64); CELL_EVIDENCE],
}

const NO_EV: (u32, u64) = (u32::MAX, u64::MAX);

impl Default for Cell {
    fn default() -> Self {
        Cell {
            bytes: 0,
            flows: 0,
            packets: 0,
            b5: [0; 12],
            first: i64::MAX,
            last: i64::MIN,
            eni: u32::MAX,
            evidence: [NO_EV; CELL_EVIDENCE],
        }
    }
}

impl Cell {
    fn add_evidence(&mut self, ev: (u32, u64)) {
        // Sorted ascending; insert if smaller than the largest kept.
        let last = CELL_EVIDENCE - 1;
        if ev >= self.evidence[last] || self.evidence.contains(&ev) {
            return;
        }
        self.evidence[last] = ev;
        self.evidence.sort_unstable();
    }

    pub fn merge(&mut self, o: &Cell) {
        self.bytes += o.bytes;
        self.flows += o.flows;
        self.packets += o.packets;
        for (a, b) in self.b5.iter_mut().zip(o.b5) {
            *a += b;
        }
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.eni = self.eni.min(o.eni);
        for ev in o.evidence {
            if ev != NO_EV {
                self.add_evidence(ev);
            }
        }
    }

    pub fn evidence(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.evidence.iter().copied().filter(|&e| e != NO_EV)
    }
}

/// Beaconing key: one exact destination host and port of a resource, per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BeaconKey {
    pub res: u32,
    pub hour: i64,
    pub dst: crate::net::IpKey,
    pub dport: u16,
    pub proto: u8,
}

/// Callbacks kept per beacon key and hour; more are counted, the earliest kept.
pub const MAX_CALLBACKS_PER_HOUR: usize = 240;

/// A callback: start time and bytes, packed (time << 32 | bytes) so a list sorts by time.
pub fn pack_callback(start: i64, bytes: u64) -> u64 {
    ((start.max(0) as u64) << 32) | bytes.min(u32::MAX as u64)
}

pub fn unpack_callback(v: u64) -> (i64, u64) {
    ((v >> 32) as i64, v & 0xffff_ffff)
}

/// One worker's (or a merged run's) observations.
#[derive(Debug, Default, Clone)]
pub struct Observations {
    pub cells: FastMap<CellKey, Cell>,
    pub beacons: FastMap<BeaconKey, Vec<u64>>,
    /// Callbacks beyond [`MAX_CALLBACKS_PER_HOUR`] (counted, not scored).
    pub callbacks_dropped: u64,
    /// Largest record start seen (event time).
    pub max_time: i64,
    /// Records of new cells or beacon series refused at [`crate::limits::Limits::max_keys`].
    pub over_limit: u64,
}

impl Observations {
    pub fn merge(&mut self, o: Observations) {
        for (k, c) in o.cells {
            self.cells.entry(k).or_default().merge(&c);
        }
        for (k, mut v) in o.beacons {
            let e = self.beacons.entry(k).or_default();
            e.append(&mut v);
            self.callbacks_dropped += trim_callbacks(e);
        }
        self.callbacks_dropped += o.callbacks_dropped;
        self.over_limit += o.over_limit;
        self.max_time = self.max_time.max(o.max_time);
    }
}

/// Sorts, de-duplicates and bounds a callback list; returns how many were dropped.
pub fn trim_callbacks(v: &mut Vec<u64>) -> u64 {
    v.sort_unstable();
    v.dedup();
    let over = v.len().saturating_sub(MAX_CALLBACKS_PER_HOUR);
    v.truncate(MAX_CALLBACKS_PER_HOUR);
    over as u64
}

/// The worker-side observer.
pub struct Observer {
    pub obs: Observations,
    /// Per model resource: whether it is profiled (a SageMaker resource with a name).
    profiled: Vec<bool>,
    known_enis: u32,
    max_keys: usize,
    cap: crate::limits::KeyCap,
}

impl Observer {
    pub fn new(model: &Model) -> Observer {
        let profiled = model
            .resources
            .iter()
            .map(|r| {
                r.sagemaker
                    && !r.name.is_empty()
                    && !matches!(r.kind, ResourceKind::Unknown)
                    && r.members.is_empty()
            })
            .collect();
        Observer {
            obs: Observations {
                max_time: i64::MIN,
                ..Default::default()
            },
            profiled,
            known_enis: model.enis.len() as u32,
            max_keys: crate::limits::get().max_keys,
            cap: crate::limits::KeyCap::default(),
        }
    }

    /// Adds the batch's egress records of profiled resources.
    pub fn observe(&mut self, batch: &RecordBatch, e: &Enriched, model: &Model, file: u32) {
        let col = |f: F| batch.column(f.index());
        let (Some(bytes), Some(packets), Some(start), Some(end), Some(dport), Some(proto)) = (
            col(F::Bytes).as_primitive_opt::<Int64Type>(),
            col(F::Packets).as_primitive_opt::<Int64Type>(),
            col(F::Start).as_primitive_opt::<Int64Type>(),
            col(F::End).as_primitive_opt::<Int64Type>(),
            col(F::DstPort).as_primitive_opt::<UInt16Type>(),
            col(F::Protocol).as_primitive_opt::<UInt8Type>(),
        ) else {
            return;
        };
        let (Some(flags), Some(action), Some(line)) = (
            col(F::TcpFlags).as_primitive_opt::<UInt16Type>(),
            col(F::Action).as_primitive_opt::<UInt8Type>(),
            batch
                .column(crate::schema::COL_LINE)
                .as_primitive_opt::<UInt64Type>(),
        ) else {
            return;
        };
        let egress = Dir::Egress as u8;
        for i in 0..e.rows {
            // ENIs no source knows are not profiled (their attribution is a guess).
            if e.dir[i] != egress || e.src_eni[i] == NONE || e.src_eni[i] >= self.known_enis {
                continue;
            }
            let res = e.resource[i];
            if !self.profiled.get(res as usize).copied().unwrap_or(false) {
                continue;
            }
            // Rejected packets never left: they are `blocked-egress-attempt`'s, not volume.
            if !action.is_null(i) && action.value(i) != 1 {
                continue;
            }
            if start.is_null(i) {
                continue;
            }
            let t = start.value(i);
            let dp = (!dport.is_null(i)).then(|| dport.value(i));
            let Some(dest) = classify(model, e.dst_class[i], e.path[i], e.svc[i], e.dst[i], dp)
            else {
                continue;
            };
            let pr = if proto.is_null(i) { 0 } else { proto.value(i) };
            let hour = t.div_euclid(HOUR) * HOUR;
            let key = CellKey {
                res,
                hour,
                dest,
                proto: pr,
                dport: dp.unwrap_or(0),
                path: e.path[i],
            };
            let b = if bytes.is_null(i) {
                0
            } else {
                bytes.value(i).max(0) as u64
            };
            // A full table refuses new cells (counted, warned once); existing ones keep counting.
            if self.obs.cells.len() >= self.max_keys && !self.obs.cells.contains_key(&key) {
                self.cap.refuse("baseline cells", self.max_keys);
                continue;
            }
            let cell = self.obs.cells.entry(key).or_default();
            cell.bytes += b;
            cell.flows += 1;
            if !packets.is_null(i) {
                cell.packets += packets.value(i).max(0) as u64;
            }
            cell.b5[((t - hour) / 300).clamp(0, 11) as usize] += b;
            cell.first = cell.first.min(t);
            let en = if end.is_null(i) { t } else { end.value(i) };
            cell.last = cell.last.max(en);
            cell.eni = cell.eni.min(e.src_eni[i]);
            cell.add_evidence((file, line.value(i)));
            if t > self.obs.max_time {
                self.obs.max_time = t;
            }
            // A callback is a new connection: a SYN when the log has tcp-flags, else a record.
            if dest.kind.beacon_candidate() {
                let new_conn = pr != 6 || flags.is_null(i) || flags.value(i) & 0x02 != 0;
                if new_conn {
                    let k = BeaconKey {
                        res,
                        hour,
                        dst: e.dst[i],
                        dport: dp.unwrap_or(0),
                        proto: pr,
                    };
                    if self.obs.beacons.len() >= self.max_keys && !self.obs.beacons.contains_key(&k)
                    {
                        self.cap.refuse("baseline beacon series", self.max_keys);
                        continue;
                    }
                    let v = self.obs.beacons.entry(k).or_default();
                    if v.len() < MAX_CALLBACKS_PER_HOUR * 2 {
                        v.push(pack_callback(t, b));
                    } else {
                        self.obs.callbacks_dropped += 1;
                    }
                }
            }
        }
    }

    pub fn finish(mut self) -> Observations {
        self.obs.over_limit += self.cap.over_limit;
        for v in self.obs.beacons.values_mut() {
            self.obs.callbacks_dropped += trim_callbacks(v);
        }
        self.obs
    }
}
