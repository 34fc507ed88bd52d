//! Generates a labelled multi-week SageMaker account (flow logs, inventory, `labels.json`) for
//! testing behavioural-baseline detectors:
//!
//! `cargo run --example gen_account -- --out DIR [--weeks 5] [--seed S] [--scale 1.0] [--parquet]`
//!
//! then `egresswatch scan --inventory DIR/inventory DIR/flowlogs`. The logic lives in
//! `tests/common/account.rs` so integration tests generate exactly what this prints.

#[path = "../tests/common/account.rs"]
mod account;

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = account::Config::default();
    let mut out: Option<PathBuf> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let val = || {
            args.get(i + 1)
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--out" => out = Some(val()?.into()),
            "--weeks" => cfg.weeks = val()?.parse()?,
            "--seed" => cfg.seed = val()?.parse()?,
            "--scale" => cfg.scale = val()?.parse()?,
            "--parquet" => {
                cfg.parquet = true;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!(
                    "usage: gen_account --out DIR [--weeks N] [--seed S] [--scale F] [--parquet]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other} (try --help)").into()),
        }
        i += 2;
    }
    let out = out.ok_or("--out DIR is required")?;
    let started = std::time::Instant::now();
    let labels = account::generate(&cfg, &out)?;
    let c = &labels.counts;
    eprintln!(
        "{} weeks from {}: {} records ({} egress) in {} objects{}, {} ENIs, {} anomalies, {} benign workload hours, under {} in {:.1}s",
        cfg.weeks,
        account::rfc3339(labels.start),
        c.records,
        c.egress_records,
        c.objects,
        if cfg.parquet { " (+ as many Parquet)" } else { "" },
        c.enis,
        labels.anomalies.len(),
        labels.workload_hours,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
