//! Per-stage cost on already-inflated text: `cargo run --release --example stage_costs -- INVENTORY FILE...`.
//! Prints ns per record for decode, decode+enrich and decode+enrich+detect (best of 5).
use bytes::Bytes;
use egresswatch::decode::{decode_input, DecodeOptions, FileStats, Input};
use egresswatch::detect::{DetectOptions, Detector, RuleSet, Scope};
use egresswatch::enrich::{Enricher, Inventory};
use egresswatch::scan::Engine;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = Inventory::load(std::path::Path::new(&args[0])).expect("inventory");
    let engine = Engine::new(&inv, &RuleSet::builtin(), Scope::Sagemaker, None);
    let inputs: Vec<Input> = args[1..]
        .iter()
        .map(|p| Input::Memory {
            name: p.clone(),
            data: Bytes::from(std::fs::read(p).unwrap()),
        })
        .collect();
    let opts = DecodeOptions {
        projection: Some(egresswatch::scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    let only: Option<usize> = std::env::var("STAGE").ok().and_then(|v| v.parse().ok());
    let reps = if only.is_some() { 1 } else { 5 };
    for stage in 0..3 {
        if only.is_some_and(|o| o != stage) {
            continue;
        }
        let mut best = f64::MAX;
        let mut recs = 0;
        let mut matches = 0;
        for _ in 0..reps {
            let t = std::time::Instant::now();
            let mut e = Enricher::new(&engine.model, &engine.enrich);
            let mut d = Detector::new(&engine.rules, DetectOptions::default());
            recs = 0;
            for input in &inputs {
                let mut stats = FileStats::new(&opts);
                decode_input(input, &opts, &mut stats, &mut |b| {
                    if stage >= 1 {
                        e.enrich(&b);
                    }
                    if stage >= 2 {
                        d.observe(&b, &e.out, &engine.model, 0);
                    }
                })
                .unwrap();
                recs += stats.records;
            }
            matches = d.matches;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "stage {stage}: {:.1} ns/record ({recs} records, {matches} matches)",
            best * 1e9 / recs as f64
        );
    }
}
