//! Writes the fuzz seeds only the library can produce (window state, baseline state, ENI ledger
//! lines, a replay checkpoint, snapshot envelopes) into `OUT/state/`, as `fuzz/seed.sh` asks:
//! `cargo run --example fuzz_seeds -- fuzz/work`. Byte 0 of each seed picks the `state` case.

use std::path::Path;

use egresswatch::inventory::files::Inventory;
use egresswatch::state::windows::OpenWindows;

fn put(out: &Path, case: u8, name: &str, body: &[u8]) -> std::io::Result<()> {
    let dir = out.join("state");
    std::fs::create_dir_all(&dir)?;
    let mut data = vec![case];
    data.extend_from_slice(body);
    std::fs::write(dir.join(name), data)
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/work".into());
    let out = Path::new(&out);
    // Window state with one open window (the key the fuzz target's next object hits).
    let (key, agg) = egresswatch::fuzzing::seed_aggregate();
    let mut w = OpenWindows::new();
    w.absorb(
        "obj-1#10",
        [(key.clone(), agg.clone())],
        &["a.log.gz".into()],
        20,
    );
    put(out, 1, "windows-one-open", &w.to_json())?;
    w.close(60, 0);
    put(out, 1, "windows-closed", &w.to_json())?;
    put(out, 1, "windows-empty", &OpenWindows::new().to_json())?;
    // Baseline state of a fresh engine.
    let e =
        egresswatch::baseline::Engine::new(Default::default(), None).map_err(anyhow::Error::msg)?;
    put(
        out,
        2,
        "baseline-fresh",
        &serde_json::to_vec(&e.to_state())?,
    )?;
    // Ledger lines from the sample inventory's ENIs.
    let inv = Inventory::load(Path::new("samples/inventory"))?;
    let seg = egresswatch::inventory::ledger::Segment {
        entries: inv
            .enis
            .iter()
            .map(|e| {
                egresswatch::inventory::ledger::Entry::Eni(
                    egresswatch::inventory::ledger::from_inventory(e, "snapshot"),
                )
            })
            .collect(),
    };
    put(out, 3, "ledger-snapshot", seg.to_jsonl().as_bytes())?;
    // A replay checkpoint for the identity the target accepts.
    // (Addresses are u128: serde_json writes them, but not through `json!`.)
    let pair = serde_json::to_string(&(key, agg))?;
    let ckpt = format!(
        r#"{{"identity":"fuzz","done":["AWSLogs/a.log.gz"],"names":["s3://b/AWSLogs/a.log.gz"],"aggregates":[{pair}],"files":1,"records":2,"nodata":0,"skipdata":0,"skipped":0,"failed":[],"bytes":100,"rule_matches":1,"unknown":{{}},"empty_files":0}}"#
    );
    put(out, 4, "checkpoint", ckpt.as_bytes())?;
    Ok(())
}
