//! The baselines of a continuous run (`watch`, the Lambda): one [`Engine`] kept across
//! batches, in memory or in a store (`--state`, `EGRESSWATCH_STATE`, under `baseline/` beside
//! `windows/`, the same snapshots `scan --state` and `replay --state` read and write).
//!
//! Per batch, like `state::windows`: the objects not counted before (`Engine::first_time`) are
//! absorbed, the hours the watermark passed are closed and scored (`advance(false)`), and the
//! state is committed before the anomaly findings are handed on. A writer that loses the race
//! re-reads the winner and re-applies its own objects to it (those the winner already counted
//! skipped), and the findings handed on are those computed on the state committed, so two
//! instances never both raise an anomaly as `new`.

use super::engine::{BaselineSummary, Engine, State};
use super::observe::Observations;
use super::BaselineConfig;
use crate::detect::Finding;
use crate::enrich::Model;
use crate::state::snapshot::Snapshots;

/// One object of a batch: its id ([`super::persist::object_id`]) and observations.
pub type ObjectObs = (String, Observations);

/// What one batch did to the baselines.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Anomaly findings new or changed by this batch (to hand on now).
    pub findings: Vec<Finding>,
    /// Objects of the batch already counted (added nothing).
    pub duplicates: usize,
    /// The generation written, with a store.
    pub generation: Option<u64>,
}

pub struct ContinuousStage {
    pub engine: Engine,
    cfg: BaselineConfig,
    snaps: Option<Snapshots>,
    loaded: Option<u64>,
}

impl ContinuousStage {
    /// Baselines in memory only (lost with the process).
    pub fn memory(cfg: BaselineConfig) -> Result<ContinuousStage, String> {
        Ok(ContinuousStage {
            engine: Engine::new(cfg.clone(), None)?,
            cfg,
            snaps: None,
            loaded: None,
        })
    }

    /// Baselines persisted under `baseline/` in `store`, loaded now.
    pub async fn open(
        store: crate::state::Store,
        cfg: BaselineConfig,
    ) -> Result<ContinuousStage, String> {
        let snaps = super::persist::snapshots(store);
        let (loaded, state) = match super::persist::load(&snaps)
            .await
            .map_err(|e| e.to_string())?
        {
            Some((g, st)) => (Some(g), Some(st)),
            None => (None, None),
        };
        Ok(ContinuousStage {
            engine: Engine::new(cfg.clone(), state)?,
            cfg,
            snaps: Some(snaps),
            loaded,
        })
    }

    pub fn location(&self) -> Option<String> {
        self.snaps.as_ref().map(|s| s.location())
    }

    /// Per object id: whether the state already counted it (the scan skips its observations).
    pub fn skip(&self, ids: &[String]) -> Vec<bool> {
        ids.iter()
            .map(|id| self.engine.state.seen_objects.contains_key(id))
            .collect()
    }

    pub fn summary(&self) -> BaselineSummary {
        self.engine.summary.clone()
    }

    /// Absorbs a batch's objects (`files`: the batch's file-name table, as the scan numbered
    /// them), scores the hours the watermark passed and commits the state; the findings
    /// returned are to be handed on now. Nothing changes when the commit fails.
    pub async fn apply(
        &mut self,
        objects: &[ObjectObs],
        files: &[String],
        model: &Model,
    ) -> Result<Applied, String> {
        let step = |mut e: Engine| {
            let mut merged = Observations::default();
            let (mut fresh, mut duplicates) = (0usize, 0usize);
            for (id, obs) in objects {
                if e.first_time(id) {
                    merged.merge(obs.clone());
                    fresh += 1;
                } else {
                    duplicates += 1;
                }
            }
            let findings = if fresh > 0 {
                e.absorb(merged, model, files);
                e.advance(false, model)
            } else {
                Vec::new()
            };
            e.fill_summary();
            (
                e,
                Applied {
                    findings,
                    duplicates,
                    generation: None,
                },
            )
        };
        let Some(snaps) = &self.snaps else {
            let placeholder = Engine::new(self.cfg.clone(), None)?;
            let (e, applied) = step(std::mem::replace(&mut self.engine, placeholder));
            self.engine = e;
            return Ok(applied);
        };
        // Nothing new: nothing to write (the state already holds every object).
        if objects
            .iter()
            .all(|(id, _)| self.engine.state.seen_objects.contains_key(id))
        {
            return Ok(Applied {
                duplicates: objects.len(),
                ..Default::default()
            });
        }
        let (loaded, ours, cfg) = (self.loaded, &self.engine, &self.cfg);
        let mut result = None;
        let g = snaps
            .update(8, |base| {
                let cur = match base {
                    Some(b) if Some(b.generation) == loaded => ours.clone(),
                    Some(b) => {
                        let st: State =
                            serde_json::from_slice(&b.body).map_err(|e| e.to_string())?;
                        let mut e = Engine::new(cfg.clone(), Some(st))?;
                        // This process's counters go on (the state holds no counters).
                        e.summary = ours.summary.clone();
                        e
                    }
                    None => ours.clone(),
                };
                let (e, applied) = step(cur);
                let body = serde_json::to_vec(&e.to_state()).map_err(|e| e.to_string())?;
                result = Some((e, applied));
                Ok(body)
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some((e, mut applied)) = result else {
            return Err("baseline state: nothing computed".into());
        };
        self.engine = e;
        self.loaded = Some(g);
        applied.generation = Some(g);
        Ok(applied)
    }
}
