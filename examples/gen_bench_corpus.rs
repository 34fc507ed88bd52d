//! Deterministic benchmark corpus: `cargo run --release --example gen_bench_corpus -- --records N
//! --out DIR`. Writes default-format v2 text objects (gzip level 6, 100 000 records each, named
//! and laid out as AWS does) for the VPC of `samples/inventory`, and `expected.tsv`: the distinct
//! (ENI, destination) pairs of SageMaker egress to public non-AWS addresses through the NAT route
//! (egresswatch's `internet-egress`), for the equality check against other engines.
//!
//! Mix (seeded): 45% S3 through the gateway endpoint, 25% VPC-internal, 20% return traffic from
//! S3, 7% EC2/Lambda ENIs (out of scope), ~2% SageMaker internet egress, 1% rejected.

use std::collections::BTreeSet;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ACCT: &str = "111122223333";
/// Training and processing ENIs in the private (NAT-routed) subnets, with their addresses.
const SAGEMAKER: &[(&str, &str)] = &[
    ("eni-0f00000000000b101", "10.20.1.21"),
    ("eni-0f00000000000b102", "10.20.2.22"),
    ("eni-0f00000000000b301", "10.20.2.41"),
];
const OTHER: &[(&str, &str)] = &[
    ("eni-0f00000000000c001", "10.20.1.100"),
    ("eni-0f00000000000b601", "10.20.1.90"),
];

/// `YYYYMMDDTHHmmZ`, as in AWS object names.
fn file_time(t: i64) -> String {
    let s = egresswatch::time::format_rfc3339(t); // YYYY-MM-DDTHH:MM:SSZ
    format!(
        "{}{}{}T{}{}Z",
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16]
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mut records: u64 = 5_000_000;
    let mut out = std::path::PathBuf::from("target/bench-corpus");
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--records" => records = args.get(i + 1).ok_or("--records N")?.parse()?,
            "--out" => out = args.get(i + 1).ok_or("--out DIR")?.into(),
            other => return Err(format!("unknown argument {other}").into()),
        }
        i += 2;
    }
    let dir = out.join(format!(
        "v2/AWSLogs/{ACCT}/vpcflowlogs/us-east-1/2026/11/20"
    ));
    std::fs::create_dir_all(&dir)?;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    let per_object = 100_000u64;
    let mut line = String::with_capacity(160);
    let mut written = 0u64;
    let mut object = 0u64;
    let start0 = 1_795_165_200i64; // 2026-11-20T09:00:00Z
    while written < records {
        let t = start0 + (object as i64) * 300;
        let name = format!(
            "{ACCT}_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_{}_{object:08x}.log.gz",
            file_time(t)
        );
        let mut gz = GzEncoder::new(
            std::io::BufWriter::new(std::fs::File::create(dir.join(&name))?),
            Compression::new(6),
        );
        gz.write_all(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")?;
        let n = per_object.min(records - written);
        for _ in 0..n {
            line.clear();
            let r = rng.below(1000);
            let (eni, ip) = if r < 930 {
                SAGEMAKER[rng.below(SAGEMAKER.len() as u64) as usize]
            } else {
                OTHER[rng.below(OTHER.len() as u64) as usize]
            };
            let sport = 32768 + rng.below(28000);
            let packets = 1 + rng.below(3000);
            let bytes = packets * (40 + rng.below(1400));
            let start = t + rng.below(240) as i64;
            let (src, dst, sp, dp, action) = if r < 450 {
                (
                    ip.to_string(),
                    format!("52.216.{}.{}", rng.below(256), rng.below(256)),
                    sport,
                    443,
                    "ACCEPT",
                )
            } else if r < 700 {
                (
                    ip.to_string(),
                    format!("10.20.{}.{}", rng.below(3), 1 + rng.below(250)),
                    sport,
                    [443, 7777, 2049][rng.below(3) as usize],
                    "ACCEPT",
                )
            } else if r < 900 {
                (
                    format!("52.216.{}.{}", rng.below(256), rng.below(256)),
                    ip.to_string(),
                    443,
                    sport,
                    "ACCEPT",
                )
            } else if r < 920 {
                // Internet egress through the NAT gateway (documentation ranges, not AWS).
                let dst = format!("203.0.113.{}", rng.below(64));
                if r < 910 {
                    expected.insert((eni.to_string(), dst.clone()));
                    (ip.to_string(), dst, sport, 443, "ACCEPT")
                } else {
                    (ip.to_string(), dst, sport, 443, "REJECT")
                }
            } else {
                // 920..930: SageMaker to more internet hosts; 930..: EC2/Lambda (out of scope).
                let dst = format!("198.51.100.{}", rng.below(256));
                if r < 930 {
                    expected.insert((eni.to_string(), dst.clone()));
                }
                (ip.to_string(), dst, sport, 443, "ACCEPT")
            };
            use std::fmt::Write as _;
            let _ = writeln!(
                line,
                "2 {ACCT} {eni} {src} {dst} {sp} {dp} 6 {packets} {bytes} {start} {} {action} OK",
                start + 55
            );
            gz.write_all(line.as_bytes())?;
        }
        gz.finish()?.flush()?;
        written += n;
        object += 1;
    }
    let mut f = std::fs::File::create(out.join("expected.tsv"))?;
    for (eni, dst) in &expected {
        writeln!(f, "{eni}\t{dst}")?;
    }
    eprintln!(
        "{records} records in {object} objects under {}",
        out.display()
    );
    Ok(())
}
