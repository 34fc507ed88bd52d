//! Traffic totals for the evidence report: egress bytes per (source ENI, resource, destination
//! class, path, service, day, interface endpoint), including the traffic that raised nothing.
//! A control that held is proven by these bytes ("2.1 TB to S3, all via vpce-..."), which
//! findings never carry. Computed in the scan workers beside the detector and merged at the end.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use serde::{Deserialize, Serialize};

use crate::enrich::{Dir, DstClass, Enriched, Enricher, Model, NONE};
use crate::net::FastMap;
use crate::schema::F;

/// `day` of records without a start time.
pub const NO_DAY: i32 = i32::MIN;

/// Worker-local key: fixed size, so a record costs one hash probe and no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    eni: u32,
    resource: u32,
    /// The interface endpoint ENI (model index) the traffic went to, else `NONE`.
    via: u32,
    day: i32,
    svc: u16,
    class: u8,
    path: u8,
}

/// Counters of one traffic cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Earliest and latest record start (Unix seconds); `i64::MAX`/`i64::MIN` when unknown.
    pub first: i64,
    pub last: i64,
}

impl Default for Cell {
    fn default() -> Self {
        Cell {
            flows: 0,
            packets: 0,
            bytes: 0,
            first: i64::MAX,
            last: i64::MIN,
        }
    }
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.flows += o.flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

/// Identity of a cell across workers (the ENI by name; the other ids index the shared model).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    pub eni: String,
    /// Model resource index, `NONE` when the ENI has none.
    pub resource: u32,
    /// Model ENI index of the interface endpoint reached, `NONE` otherwise.
    pub via: u32,
    /// Days since the Unix epoch of the record's start, [`NO_DAY`] when unknown.
    pub day: i32,
    /// Model service symbol (`NO_SYM` when none).
    pub svc: u16,
    pub class: u8,
    pub path: u8,
}

/// One worker's aggregation.
#[derive(Default)]
pub struct TrafficAgg {
    index: FastMap<Key, u32>,
    keys: Vec<Key>,
    cells: Vec<Cell>,
    /// Consecutive records mostly share a key (one ENI's flows are written together).
    last: Option<(Key, u32)>,
}

impl TrafficAgg {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the batch's egress records (as the enricher decided them).
    pub fn observe(&mut self, batch: &RecordBatch, e: &Enriched, model: &Model) {
        let col = |f: F| batch.column(f.index());
        let (Some(bytes), Some(packets), Some(start)) = (
            col(F::Bytes).as_primitive_opt::<Int64Type>(),
            col(F::Packets).as_primitive_opt::<Int64Type>(),
            col(F::Start).as_primitive_opt::<Int64Type>(),
        ) else {
            return;
        };
        let iface = DstClass::InterfaceEndpoint as u8;
        for i in 0..e.rows {
            if e.dir[i] != Dir::Egress as u8 || e.src_eni[i] == NONE {
                continue;
            }
            let eni = e.src_eni[i];
            let class = e.dst_class[i];
            let via = if class == iface {
                model
                    .enis
                    .get(eni as usize)
                    .and_then(|s| model.addr.get(&(s.vpc, e.dst[i])))
                    .copied()
                    .unwrap_or(NONE)
            } else {
                NONE
            };
            let t = (!start.is_null(i)).then(|| start.value(i));
            let day = t.map_or(NO_DAY, |t| t.div_euclid(86_400) as i32);
            let key = Key {
                eni,
                resource: e.resource[i],
                via,
                day,
                svc: e.svc[i],
                class,
                path: e.path[i],
            };
            let slot = match self.last {
                Some((k, s)) if k == key => s,
                _ => {
                    let next = self.cells.len() as u32;
                    let s = *self.index.entry(key).or_insert(next);
                    if s == next {
                        self.keys.push(key);
                        self.cells.push(Cell::default());
                    }
                    self.last = Some((key, s));
                    s
                }
            };
            let c = &mut self.cells[slot as usize];
            c.flows += 1;
            if !bytes.is_null(i) {
                c.bytes += bytes.value(i).max(0) as u64;
            }
            if !packets.is_null(i) {
                c.packets += packets.value(i).max(0) as u64;
            }
            if let Some(t) = t {
                c.first = c.first.min(t);
                c.last = c.last.max(t);
            }
        }
    }

    /// Names the worker's ENIs so the cells merge with other workers'.
    pub fn finish(self, enricher: &Enricher<'_>) -> Vec<(CellKey, Cell)> {
        self.keys
            .into_iter()
            .zip(self.cells)
            .map(|(k, c)| {
                (
                    CellKey {
                        eni: enricher.eni_name(k.eni).unwrap_or("-").to_string(),
                        resource: k.resource,
                        via: k.via,
                        day: k.day,
                        svc: k.svc,
                        class: k.class,
                        path: k.path,
                    },
                    c,
                )
            })
            .collect()
    }
}

/// Merged traffic totals of a scan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Traffic {
    pub cells: HashMap<CellKey, Cell>,
}

impl Traffic {
    pub fn absorb(&mut self, part: impl IntoIterator<Item = (CellKey, Cell)>) {
        for (k, c) in part {
            self.cells.entry(k).or_default().add(&c);
        }
    }

    /// Cells in a stable order (by key), for deterministic reports.
    pub fn sorted(&self) -> Vec<(&CellKey, &Cell)> {
        let mut v: Vec<_> = self.cells.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub fn total_bytes(&self) -> u64 {
        self.cells.values().map(|c| c.bytes).sum()
    }
}
