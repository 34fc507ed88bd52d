//! The baseline state in a store (`--state DIR|s3://bucket/prefix`, `EGRESSWATCH_STATE`): one
//! JSON body per snapshot generation under `baseline/` (`state::snapshot`: create-only
//! generations, checksummed, the newest few kept). A writer that loses the race re-reads the
//! winner and re-applies its own observations to it, so concurrent runs lose nothing; objects
//! both counted are counted once (`State::seen_objects`).

use super::engine::{Engine, State};
use super::observe::Observations;
use super::BaselineConfig;
use crate::enrich::Model;
use crate::state::snapshot::{Loaded, SnapshotError, Snapshots};
use crate::state::Store;

pub const DIR: &str = "baseline";

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("baseline state {location}: {message}")]
    Invalid { location: String, message: String },
}

pub fn snapshots(store: Store) -> Snapshots {
    Snapshots::new(store, DIR)
}

fn parse(l: &Loaded, location: &str) -> Result<State, PersistError> {
    serde_json::from_slice(&l.body).map_err(|e| PersistError::Invalid {
        location: location.to_string(),
        message: format!("generation {}: {e}", l.generation),
    })
}

/// The newest state, or `None` for a new store.
pub async fn load(s: &Snapshots) -> Result<Option<(u64, State)>, PersistError> {
    match s.load().await? {
        Some(l) => Ok(Some((l.generation, parse(&l, &s.location())?))),
        None => Ok(None),
    }
}

/// One object's identity for de-duplication: name and size (or ETag).
pub fn object_id(name: &str, version: &str) -> String {
    format!("{name}#{version}")
}

/// Writes the engine's state. If another writer committed since `loaded`, its state is
/// taken and this run's `obs` (for `objects`) re-applied to it; findings of the re-applied
/// run were already emitted and are not returned again.
#[allow(clippy::too_many_arguments)]
pub async fn save(
    s: &Snapshots,
    engine: &Engine,
    loaded: Option<u64>,
    obs: &Observations,
    objects: &[String],
    files: &[String],
    model: &Model,
    cfg: &BaselineConfig,
    flush: bool,
) -> Result<u64, PersistError> {
    let location = s.location();
    let ours = serde_json::to_vec(&engine.to_state()).map_err(|e| PersistError::Invalid {
        location: location.clone(),
        message: e.to_string(),
    })?;
    let g = s
        .update(5, |base| match base {
            b if b.map(|b| b.generation) == loaded => Ok(ours.clone()),
            Some(winner) => {
                let st: State = serde_json::from_slice(&winner.body).map_err(|e| e.to_string())?;
                let mut e = Engine::new(cfg.clone(), Some(st))?;
                let fresh: Vec<bool> = objects.iter().map(|o| e.first_time(o)).collect();
                if fresh.iter().any(|&f| f) {
                    // Objects the winner already counted are in both; counting them again
                    // would double them, so only a run with none of them is re-applied whole.
                    if fresh.iter().all(|&f| f) {
                        e.absorb(obs.clone(), model, files);
                    } else {
                        tracing::warn!(
                            "baseline state: another writer counted some of this run's objects; this run's observations were not re-applied (they are in the other writer's state)"
                        );
                    }
                    let _ = e.advance(flush, model);
                }
                serde_json::to_vec(&e.to_state()).map_err(|e| e.to_string())
            }
            None => Ok(ours.clone()),
        })
        .await?;
    Ok(g)
}
