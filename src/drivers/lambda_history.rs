//! ENI history in the Lambda (`EGRESSWATCH_LEDGER`). CloudTrail "AWS API Call via CloudTrail"
//! and `aws.sagemaker` state-change events arriving on the function's queue are written to the
//! ledger as one segment before the batch's flow-log objects are scanned, so a job born after
//! the cold start is attributed. Segments written by other concurrent instances are merged in
//! at most every `refresh` (one List per refresh): instances converge on one ledger without
//! coordinating, and the ledger's order-free merge makes the order they learn in irrelevant.
//!
//! Why no late re-emission here (watch has it): a Lambda instance may be frozen or recycled at
//! any moment, so findings held in memory for a later update would be lost. Flow-log objects
//! reach the queue minutes after their records (aggregation plus delivery), while CloudTrail
//! events reach EventBridge within seconds of the call, so the ENI's creation is normally in
//! the ledger before its first flow-log object is scanned; what still arrives unattributed is
//! counted in `unattributed` and raised with resource `unknown`, never dropped.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::detect::{RuleSet, Scope};
use crate::inventory::cloudtrail::{state_change, TrailReader};
use crate::inventory::ledger::{Entry, Ledger, Segment};
use crate::inventory::Inventory;
use crate::scan::Engine;
use crate::source::events::HistoryEvent;
use crate::state::{Store, StoreError};

/// The default interval between merges of other instances' ledger segments.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// What a warm Lambda instance keeps between invocations to attribute ENIs born after its
/// cold start.
pub struct LambdaHistory {
    /// The inventory the engine is built from; its `history` is the merged ledger.
    pub inventory: Inventory,
    /// Where learned entries are persisted; in memory only without it (events then only help
    /// this instance, and a WARN says so at cold start).
    pub store: Option<Store>,
    pub rules: RuleSet,
    pub scope: Scope,
    pub refresh: Duration,
    known: HashSet<String>,
    last_refresh: Option<Instant>,
}

/// What one invocation did with history (reported in the handler's `summary`).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct HistoryOutcome {
    /// CloudTrail / SageMaker events received.
    pub events: u64,
    /// Entries learned from them (duplicates of events already in the ledger are not counted).
    pub entries: u64,
    /// Segments written by this invocation.
    pub segments_written: u64,
    /// Segments of other instances merged in.
    pub segments_merged: u64,
    /// Events whose messages are returned as failures because the ledger write failed.
    pub not_persisted: u64,
}

impl LambdaHistory {
    /// Loads the ledger at `store` (if any) into `inventory.history`, remembering which
    /// segments it holds.
    pub async fn open(
        mut inventory: Inventory,
        store: Option<Store>,
        rules: RuleSet,
        scope: Scope,
        refresh: Duration,
    ) -> Result<LambdaHistory, StoreError> {
        let mut known = HashSet::new();
        if let Some(s) = &store {
            merge_new(&mut inventory.history, s, &mut known).await?;
            tracing::info!(
                location = %s.location(),
                segments = inventory.history.segments,
                enis = inventory.history.enis.len(),
                resources = inventory.history.resources.len(),
                "ENI ledger loaded"
            );
        }
        Ok(LambdaHistory {
            inventory,
            store,
            rules,
            scope,
            refresh,
            known,
            last_refresh: Some(Instant::now()),
        })
    }

    /// The engine for the current inventory and ledger.
    pub fn engine(&self) -> Engine {
        Engine::new(&self.inventory, &self.rules, self.scope, None)
    }

    /// Merges segments other instances wrote since the last refresh, when `refresh` has
    /// passed. `true` when anything new was merged (the engine must be rebuilt).
    pub async fn refresh_if_due(&mut self, out: &mut HistoryOutcome) -> bool {
        let Some(store) = &self.store else {
            return false;
        };
        if self
            .last_refresh
            .is_some_and(|t| t.elapsed() < self.refresh)
        {
            return false;
        }
        self.last_refresh = Some(Instant::now());
        match merge_new(&mut self.inventory.history, store, &mut self.known).await {
            Ok(n) => {
                out.segments_merged += n as u64;
                n > 0
            }
            Err(e) => {
                // The ledger we have is still right, only possibly behind: scan on with it.
                tracing::warn!("ledger refresh failed ({e}); scanning with the ledger as loaded");
                false
            }
        }
    }

    /// Learns from `events` and persists what is new as one segment. `Ok(true)` when the
    /// ledger changed (the engine must be rebuilt); `Err` when the segment could not be
    /// written: nothing was applied and the caller returns the events' messages as failures.
    pub async fn apply(
        &mut self,
        events: &[&HistoryEvent],
        out: &mut HistoryOutcome,
    ) -> Result<bool, StoreError> {
        out.events += events.len() as u64;
        let mut reader = TrailReader::with_seen(self.inventory.history.seen_events.clone());
        for ev in events {
            match ev {
                HistoryEvent::CloudTrail { detail, .. } => {
                    reader.event(detail, "eventbridge");
                }
                HistoryEvent::SageMaker {
                    id,
                    detail_type,
                    detail,
                } => {
                    if let Some(f) = state_change(detail_type, detail, id) {
                        reader.entries.push(Entry::Resource(f));
                    }
                }
            }
        }
        reader.finish();
        let seg = Segment {
            entries: std::mem::take(&mut reader.entries),
        };
        if seg.is_empty() {
            return Ok(false);
        }
        if let Some(s) = &self.store {
            if let Some(name) = seg.write(s).await? {
                self.known.insert(name);
                out.segments_written += 1;
            }
        }
        out.entries += seg.entries.len() as u64;
        for e in seg.entries {
            self.inventory.history.add(e);
        }
        Ok(true)
    }
}

/// Merges the segments of `store` not in `known` into `ledger`; returns how many.
async fn merge_new(
    ledger: &mut Ledger,
    store: &Store,
    known: &mut HashSet<String>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for name in store.list(crate::inventory::ledger::DIR).await? {
        if known.contains(&name) {
            continue;
        }
        let data = store.get(&name).await?;
        ledger.add_segment(&name, &String::from_utf8_lossy(&data));
        known.insert(name);
        n += 1;
    }
    Ok(n)
}
