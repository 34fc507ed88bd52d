//! AWS Lambda entry point. Configuration comes from the environment:
//! `EGRESSWATCH_INVENTORY` (folder in the package, `s3://bucket/prefix/`, or `live`), optional
//! `EGRESSWATCH_RULES` (file or folder), `EGRESSWATCH_ROUTE` (routing TOML; its spool should be
//! on /tmp or EFS), `EGRESSWATCH_SCOPE` (`sagemaker` or `all`), `EGRESSWATCH_DELIVER_TIMEOUT`,
//! `EGRESSWATCH_LEDGER` (ENI ledger, `s3://bucket/prefix` or a folder: CloudTrail and SageMaker
//! events on the queue are written there and read by every instance), `EGRESSWATCH_LEDGER_REFRESH`
//! (how often other instances' ledger segments are merged in, default 60s) and
//! `EGRESSWATCH_ENI_GRACE` (`2m,20m`), `EGRESSWATCH_STATE` (`s3://bucket/prefix` or a folder:
//! the open aggregation windows, shared by every instance, so a window split over invocations
//! is raised once and then updated) and `EGRESSWATCH_LATENESS` (how long after its end a window
//! takes records, default 15m). With EGRESSWATCH_STATE the behavioural baselines run too,
//! persisted under `baseline/` in the same store (EGRESSWATCH_NO_BASELINE=1 turns them off).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use egresswatch::decode::DecodeOptions;
use egresswatch::detect::{RuleSet, Scope};
use egresswatch::scan::ScanOptions;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        // Dependencies that print requests (URLs with tokens, auth headers) are capped there.
        .with_env_filter(egresswatch::logging::filter("info"))
        .without_time()
        .init();
    // A bad EGRESSWATCH_MAX_* refuses the cold start instead of running with a default.
    egresswatch::limits::install(egresswatch::limits::Limits::from_env()?);
    let cfg = egresswatch::aws::sdk_config(None, None).await;
    let s3 = egresswatch::aws::s3_client(&cfg, false);
    let mut inventory: egresswatch::inventory::Inventory =
        match std::env::var("EGRESSWATCH_INVENTORY") {
            Ok(loc) if loc == "live" => {
                let dir = std::env::temp_dir().join("egresswatch-inventory");
                egresswatch::inventory::live::live_inventory(&cfg, None, &dir).await?
            }
            Ok(loc) => egresswatch::lambda::load_inventory(&s3, &loc).await?,
            Err(_) => Default::default(),
        };
    let rules = match std::env::var("EGRESSWATCH_RULES") {
        Ok(p) => RuleSet::load(std::path::Path::new(&p))?,
        Err(_) => RuleSet::builtin(),
    };
    let scope = match std::env::var("EGRESSWATCH_SCOPE").as_deref() {
        Ok("all") => Scope::All,
        _ => Scope::Sagemaker,
    };
    if let Ok(g) = std::env::var("EGRESSWATCH_ENI_GRACE") {
        inventory.eni_grace = Some(
            egresswatch::inventory::history::parse_grace(&g)
                .map_err(|e| format!("EGRESSWATCH_ENI_GRACE: {e}"))?,
        );
    }
    let store = match std::env::var("EGRESSWATCH_LEDGER") {
        Ok(loc) if !loc.is_empty() => Some(
            egresswatch::inventory::history::open_store(&loc, Some(&s3))
                .map_err(|e| format!("EGRESSWATCH_LEDGER: {e}"))?,
        ),
        _ => None,
    };
    let refresh = std::env::var("EGRESSWATCH_LEDGER_REFRESH")
        .ok()
        .and_then(|v| egresswatch::time::parse_duration(&v))
        .map_or(egresswatch::lambda::DEFAULT_REFRESH, |s| {
            std::time::Duration::from_secs(s.max(0) as u64)
        });
    let history = egresswatch::lambda::LambdaHistory::open(
        inventory.clone(),
        store,
        rules.clone(),
        scope,
        refresh,
    )
    .await?;
    let engine = Arc::new(history.engine());
    let lateness = match std::env::var("EGRESSWATCH_LATENESS") {
        Ok(v) if v.trim() == "0" => 0,
        Ok(v) => egresswatch::time::parse_duration(&v)
            .ok_or_else(|| format!("EGRESSWATCH_LATENESS: {v:?} is not a duration like 15m"))?,
        Err(_) => egresswatch::state::windows::DEFAULT_LATENESS,
    };
    let detect = egresswatch::detect::DetectOptions::default();
    // The behavioural baselines run with the state (under `baseline/` beside `windows/`),
    // unless the pack's `[baseline]` turns them off or EGRESSWATCH_NO_BASELINE is set.
    let no_baseline = std::env::var("EGRESSWATCH_NO_BASELINE").is_ok_and(|v| !v.is_empty());
    let (windows, baseline) = match std::env::var("EGRESSWATCH_STATE") {
        Ok(loc) if !loc.is_empty() => {
            let store = egresswatch::state::Store::open(&loc, || Some(s3.clone()))
                .map_err(|e| format!("EGRESSWATCH_STATE: {e}"))?;
            let baseline = if rules.baseline.enabled && !no_baseline {
                Some(
                    egresswatch::baseline::stage::ContinuousStage::open(
                        store.clone(),
                        rules.baseline.clone(),
                    )
                    .await
                    .map_err(|e| format!("EGRESSWATCH_STATE (baseline): {e}"))?,
                )
            } else {
                None
            };
            (
                Some(
                    egresswatch::state::windows::WindowStage::open(store, lateness, detect)
                        .await
                        .map_err(|e| format!("EGRESSWATCH_STATE: {e}"))?,
                ),
                baseline,
            )
        }
        _ => (None, None),
    };
    let warm = Arc::new(tokio::sync::Mutex::new((
        engine, history, windows, baseline,
    )));
    // Header-less records (CloudWatch Logs, Firehose): EGRESSWATCH_FIELDS, EGRESSWATCH_FIELDS_MAP
    // and the inventory's flow logs give their field order.
    let fields = match std::env::var("EGRESSWATCH_FIELDS") {
        Ok(f) => Some(
            egresswatch::decode::Layout::parse_spec(&f)
                .map_err(|e| format!("EGRESSWATCH_FIELDS: {e}"))?,
        ),
        Err(_) => None,
    };
    let map = std::env::var("EGRESSWATCH_FIELDS_MAP").ok();
    let sources = egresswatch::decode::cwlogs::FieldSources::load(
        map.as_deref().map(std::path::Path::new),
        &inventory.flow_logs,
    )?;
    let opts = ScanOptions {
        decode: DecodeOptions {
            fields,
            sources,
            ..Default::default()
        },
        ..Default::default()
    };
    let route = match std::env::var("EGRESSWATCH_ROUTE") {
        Ok(p) => Some(egresswatch::deliver::RouteConfig::load(
            std::path::Path::new(&p),
        )?),
        Err(_) => None,
    };
    let wait = std::env::var("EGRESSWATCH_DELIVER_TIMEOUT")
        .ok()
        .and_then(|v| egresswatch::time::parse_duration(&v))
        .unwrap_or(20) as u64;
    let router = Arc::new(std::sync::Mutex::new(match route {
        Some(r) => Some(egresswatch::deliver::Router::open(r)?),
        None => None,
    }));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| {
        let (s3, warm, opts, router) = (s3.clone(), warm.clone(), opts.clone(), router.clone());
        async move {
            let mut emit = |findings: &[egresswatch::detect::Finding]| -> Result<(), String> {
                let mut out = std::io::stdout().lock();
                egresswatch::output::write_findings(
                    &mut out,
                    findings,
                    egresswatch::output::Format::Jsonl,
                )
                .map_err(|e| e.to_string())?;
                let mut guard = router
                    .lock()
                    .map_err(|_| "router lock poisoned".to_string())?;
                if let Some(r) = guard.as_mut() {
                    let routed = r.route(findings).map_err(|e| e.to_string())?;
                    if !routed.refused_sinks.is_empty() {
                        return Err(format!("spool full for {:?}", routed.refused_sinks));
                    }
                    r.drain(std::time::Duration::from_secs(wait));
                }
                Ok(())
            };
            // One invocation at a time per instance: the lock is never contended.
            let mut guard = warm.lock().await;
            let (engine, history, windows, baseline) = &mut *guard;
            egresswatch::lambda::handle_with_stages(
                ev.payload,
                &s3,
                engine,
                Some(history),
                windows.as_mut(),
                baseline.as_mut(),
                &opts,
                &mut emit,
            )
            .await
            .map_err(Error::from)
        }
    }))
    .await
}
