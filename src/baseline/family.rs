//! Family keys: which earlier runs a new job is compared with. SageMaker tooling names a job
//! `<base>-<timestamp>` (the SDK's `name_from_base`; `base_from_name` strips it again), so the
//! base is the family. Tuning children belong to their tuning job's family; endpoints and
//! notebooks are their own family. A pack may set families by name pattern.

use super::config::FamilyOverride;
use crate::enrich::model::{Model, ResourceKind, NONE};

/// Whether a kind is a run (its baseline is its family's earlier runs) or long-lived (its
/// baseline is its own history, by hour of week). By name, so labelled ENIs (`kind =
/// "training-job"` in a labels file) count as what they say.
pub fn is_job(kind: &str) -> bool {
    [
        ResourceKind::TrainingJob,
        ResourceKind::ProcessingJob,
        ResourceKind::TransformJob,
        ResourceKind::TuningJob,
    ]
    .iter()
    .any(|k| k.as_str() == kind)
}

/// `name` without the timestamp suffix tooling appends: trailing `-`-separated groups of digits
/// (`-2026-11-19-2301`, `-2026-11-19-23-01-05-123`, `-261119-2301`, `-1732012345`) when they
/// hold at least 6 digits together, so `model-v2-3` keeps its `-3`.
pub fn base_from_name(name: &str) -> &str {
    let mut end = name.len();
    let mut digits = 0usize;
    let mut cut = None;
    while let Some(dash) = name[..end].rfind('-') {
        let tok = &name[dash + 1..end];
        if tok.is_empty() || !tok.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        digits += tok.len();
        end = dash;
        if digits >= 6 && end > 0 {
            cut = Some(end);
        }
    }
    // A base of digits alone is not a name (`2026-11-19-2301` stays whole).
    match cut {
        Some(c) if name[..c].bytes().any(|b| !b.is_ascii_digit() && b != b'-') => &name[..c],
        _ => name,
    }
}

/// The family of resource `r`: a pack override, else the tuning parent's family, else the
/// name's base (jobs) or the name (long-lived resources). Prefixed with the kind, so a
/// processing job and a training job of the same base are different families.
pub fn family_of(model: &Model, r: u32, overrides: &[FamilyOverride]) -> Option<String> {
    let res = model.resources.get(r as usize)?;
    let kind = res.kind_str();
    if let Some(o) = overrides
        .iter()
        .find(|o| crate::deliver::route::glob(&o.pattern, &res.name))
    {
        return Some(format!("{kind}/{}", o.family));
    }
    if res.parent != NONE {
        if let Some(p) = model.resources.get(res.parent as usize) {
            return Some(format!("{}/{}", p.kind_str(), base_from_name(&p.name)));
        }
    }
    let base = if is_job(kind) {
        base_from_name(&res.name)
    } else {
        &res.name
    };
    Some(format!("{kind}/{base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tooling_timestamps_only() {
        assert_eq!(base_from_name("fraud-xgb-2026-11-19-2301"), "fraud-xgb");
        assert_eq!(
            base_from_name("churn-train-2026-10-05-02-00-00-000"),
            "churn-train"
        );
        assert_eq!(base_from_name("etl-261119-2301"), "etl");
        assert_eq!(base_from_name("job-1732012345"), "job");
        assert_eq!(base_from_name("model-v2-3"), "model-v2-3");
        assert_eq!(base_from_name("2026-11-19-2301"), "2026-11-19-2301");
        assert_eq!(base_from_name("plain"), "plain");
    }
}
