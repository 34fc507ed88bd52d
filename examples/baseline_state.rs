//! Size and load time of a baseline state of N long-lived resources and M job families, each
//! filled to a realistic bound (3 destination groups with full hour-of-week rings, 32
//! destinations, 16 ports for a resource; 4 groups with full run rings, 64 destinations, 16
//! ports for a family). `cargo run --release --example baseline_state -- 10000 2000`.

use std::collections::BTreeMap;
use std::time::Instant;

use egresswatch::baseline::engine::{Family, Meta, Profile, State, STATE_SCHEMA};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let resources = args.first().copied().unwrap_or(10_000);
    let families = args.get(1).copied().unwrap_or(2_000);
    let mut st = State {
        schema: STATE_SCHEMA,
        ..Default::default()
    };
    let groups = [
        "s3-gateway",
        "internet",
        "aws-service:LOGS",
        "interface-endpoint",
    ];
    for r in 0..resources {
        let mut p = Profile {
            meta: Meta {
                kind: "endpoint".into(),
                name: format!("endpoint-{r:05}"),
                arn: Some(format!(
                    "arn:aws:sagemaker:us-east-1:111122223333:endpoint/endpoint-{r:05}"
                )),
                network_isolation: Some(false),
                family: format!("endpoint/endpoint-{r:05}"),
                job: false,
                end: None,
            },
            first_seen: 1_790_000_000,
            last_seen: 1_792_000_000,
            slots: BTreeMap::new(),
            cusum: BTreeMap::new(),
            dests: BTreeMap::new(),
            ports: BTreeMap::new(),
            run: BTreeMap::new(),
            beacons: BTreeMap::new(),
        };
        for g in &groups[..3] {
            p.slots.insert(
                g.to_string(),
                (0..48)
                    .map(|s| {
                        (0..8)
                            .map(|i| (1e6 * (s * 8 + i + r) as f64) as f32)
                            .collect()
                    })
                    .collect(),
            );
        }
        for d in 0..32 {
            p.dests
                .insert(format!("internet:203.0.{d}.0/24"), 1_791_000_000 + d);
        }
        for q in 0..16 {
            p.ports.insert(format!("tcp/{}", 443 + q), 1_791_000_000);
        }
        st.profiles.insert(format!("endpoint/endpoint-{r:05}"), p);
    }
    for f in 0..families {
        let mut fam = Family {
            first_seen: 1_790_000_000,
            last_seen: 1_792_000_000,
            runs: 40,
            ..Default::default()
        };
        for g in groups {
            fam.totals
                .insert(g.into(), (0..32).map(|i| 2e9 + i as f64 * 1e7).collect());
            fam.rates
                .insert(g.into(), (0..32).map(|i| 9e8 + i as f64 * 1e6).collect());
        }
        for d in 0..64 {
            fam.dests
                .insert(format!("internet:198.51.{d}.0/24"), 1_791_000_000);
        }
        for q in 0..16 {
            fam.ports.insert(format!("tcp/{}", 443 + q), 1_791_000_000);
        }
        st.families
            .insert(format!("training-job/family-{f:05}"), fam);
    }
    let t = Instant::now();
    let body = serde_json::to_vec(&st)?;
    let ser = t.elapsed();
    let t = Instant::now();
    let back: State = serde_json::from_slice(&body)?;
    let load = t.elapsed();
    let one_res = serde_json::to_vec(st.profiles.values().next().ok_or("no profile")?)?.len();
    let one_fam = serde_json::to_vec(st.families.values().next().ok_or("no family")?)?.len();
    println!(
        "resources {resources}, families {families}: snapshot {:.1} MiB, serialize {:.2} s, load {:.2} s; per resource {one_res} B, per family {one_fam} B (JSON); profiles back {}",
        body.len() as f64 / (1 << 20) as f64,
        ser.as_secs_f64(),
        load.as_secs_f64(),
        back.profiles.len()
    );
    Ok(())
}
