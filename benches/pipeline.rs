//! criterion benches for each stage and the whole pipeline, on an in-memory synthetic corpus
//! (the generator's mix: S3 via the gateway endpoint, VPC-internal, return traffic, out-of-scope
//! ENIs, ~2% SageMaker internet egress). Each bench checks its record and finding counts once
//! before timing, so a fast wrong answer fails instead of reporting a number.
//! `cargo bench --bench pipeline`; `scripts/bench.sh` is the peer comparison.

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use egresswatch::decode::{decode_input, DecodeOptions, FileStats, Input};
use egresswatch::detect::{DetectOptions, Detector, RuleSet, Scope};
use egresswatch::enrich::Enricher;
use egresswatch::scan::{Engine, ScanOptions};

const N: usize = 50_000;

fn corpus() -> (String, usize) {
    let mut s = String::from("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
    let enis = [
        ("eni-0f00000000000b101", "10.20.1.21"),
        ("eni-0f00000000000b102", "10.20.2.22"),
        ("eni-0f00000000000b301", "10.20.2.41"),
        ("eni-0f00000000000c001", "10.20.1.100"),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut internet = 0;
    for i in 0..N {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (eni, ip) = enis[(x % 4) as usize];
        let r = (x >> 8) % 100;
        let t = 1_795_165_200 + (i as u64 % 3600);
        let line = match r {
            0..=44 => format!(
                "2 111122223333 {eni} {ip} 52.216.{}.{} 40000 443 6 10 8000 {t} {} ACCEPT OK\n",
                (x >> 16) % 256,
                (x >> 24) % 256,
                t + 55
            ),
            45..=69 => format!(
                "2 111122223333 {eni} {ip} 10.20.{}.{} 40000 7777 6 10 8000 {t} {} ACCEPT OK\n",
                (x >> 16) % 3,
                (x >> 24) % 250 + 1,
                t + 55
            ),
            70..=97 => format!(
                "2 111122223333 {eni} 52.216.1.{} {ip} 443 40000 6 10 8000 {t} {} ACCEPT OK\n",
                (x >> 16) % 256,
                t + 55
            ),
            _ => {
                if !eni.ends_with("c001") {
                    internet += 1;
                }
                format!(
                    "2 111122223333 {eni} {ip} 203.0.113.{} 40000 443 6 10 8000 {t} {} ACCEPT OK\n",
                    (x >> 16) % 32,
                    t + 55
                )
            }
        };
        s.push_str(&line);
    }
    (s, internet)
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn decode_all(input: &Input) -> (Vec<RecordBatch>, FileStats) {
    decode_with(input, &DecodeOptions::default())
}

/// As `scan` decodes: only the fields the enricher and detector read are materialised.
fn decode_scan(input: &Input) -> (Vec<RecordBatch>, FileStats) {
    let opts = DecodeOptions {
        projection: Some(egresswatch::scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    decode_with(input, &opts)
}

fn decode_with(input: &Input, opts: &DecodeOptions) -> (Vec<RecordBatch>, FileStats) {
    let opts = opts.clone();
    let mut stats = FileStats::new(&opts);
    let mut batches = Vec::new();
    decode_input(input, &opts, &mut stats, &mut |b| batches.push(b)).unwrap();
    (batches, stats)
}

/// The text as AWS writes Parquet: underscored names, int32/int64 numbers, strings otherwise.
fn parquet_of(text: &str) -> Vec<u8> {
    use arrow_array::{ArrayRef, Int32Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(' ').collect()).collect();
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let col = name.replace('-', "_");
        let vals = rows.iter().map(|r| r[i]);
        if ["version", "srcport", "dstport", "protocol"].contains(name) {
            fields.push(Field::new(col, DataType::Int32, true));
            cols.push(Arc::new(
                vals.map(|v| v.parse::<i32>().ok()).collect::<Int32Array>(),
            ));
        } else if ["packets", "bytes", "start", "end"].contains(name) {
            fields.push(Field::new(col, DataType::Int64, true));
            cols.push(Arc::new(
                vals.map(|v| v.parse::<i64>().ok()).collect::<Int64Array>(),
            ));
        } else {
            fields.push(Field::new(col, DataType::Utf8, true));
            cols.push(Arc::new(vals.map(Some).collect::<StringArray>()));
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn engine() -> Engine {
    let inv = egresswatch::demo::inventory().unwrap();
    Engine::new(&inv, &RuleSet::builtin(), Scope::Sagemaker, None)
}

fn benches(c: &mut Criterion) {
    let (text, internet_records) = corpus();
    let gzip = Bytes::from(gz(&text));
    let input = Input::Memory {
        name: "bench.log.gz".into(),
        data: gzip.clone(),
    };
    let (batches, stats) = decode_all(&input);
    assert_eq!(stats.records as usize, N);
    assert!(internet_records > 0);
    let engine = engine();

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("text_gz", |b| {
        b.iter(|| black_box(decode_all(&input)).1.records)
    });
    assert_eq!(decode_scan(&input).1.records as usize, N);
    g.bench_function("text_gz_scan_projection", |b| {
        b.iter(|| black_box(decode_scan(&input)).1.records)
    });
    let pq = Input::Memory {
        name: "bench.parquet".into(),
        data: Bytes::from(parquet_of(&text)),
    };
    assert_eq!(decode_all(&pq).1.records as usize, N);
    g.throughput(Throughput::Bytes(pq_len(&pq)));
    g.bench_function("parquet", |b| {
        b.iter(|| black_box(decode_all(&pq)).1.records)
    });
    assert_eq!(decode_scan(&pq).1.records as usize, N);
    g.bench_function("parquet_scan_projection", |b| {
        b.iter(|| black_box(decode_scan(&pq)).1.records)
    });
    g.finish();

    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("enrich", |b| {
        b.iter(|| {
            let mut e = Enricher::new(&engine.model, &engine.enrich);
            for batch in &batches {
                e.enrich(batch);
            }
            black_box(e.out.rows)
        })
    });
    let matches = |batches: &[RecordBatch]| {
        let mut e = Enricher::new(&engine.model, &engine.enrich);
        let mut d = Detector::new(&engine.rules, DetectOptions::default());
        for batch in batches {
            e.enrich(batch);
            d.observe(batch, &e.out, &engine.model, 0);
        }
        d.matches
    };
    // Every SageMaker internet flow matches internet-egress (and nothing else in this mix).
    assert_eq!(matches(&batches) as usize, internet_records);
    g.bench_function("enrich+rules", |b| b.iter(|| black_box(matches(&batches))));
    // Rule evaluation alone, over batches enriched once.
    let enriched: Vec<_> = {
        let mut e = Enricher::new(&engine.model, &engine.enrich);
        batches
            .iter()
            .map(|batch| {
                e.enrich(batch);
                e.out.clone()
            })
            .collect()
    };
    let rules_only = || {
        let mut d = Detector::new(&engine.rules, DetectOptions::default());
        for (batch, e) in batches.iter().zip(&enriched) {
            d.observe(batch, e, &engine.model, 0);
        }
        d.matches
    };
    assert_eq!(rules_only() as usize, internet_records);
    g.bench_function("rules", |b| b.iter(|| black_box(rules_only())));
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(N as u64));
    let inputs = vec![input.clone()];
    let opts = ScanOptions {
        threads: 1,
        ..Default::default()
    };
    let engine = Arc::new(engine);
    let findings = engine.scan(&inputs, &opts).findings.len();
    assert!(findings > 0 && findings <= 3 * 32);
    g.bench_function("scan_1_thread", |b| {
        b.iter(|| black_box(engine.scan(&inputs, &opts).findings.len()))
    });
    g.finish();
}

fn pq_len(i: &Input) -> u64 {
    match i {
        Input::Memory { data, .. } => data.len() as u64,
        Input::Path(_) => 0,
    }
}

criterion_group! {
    name = pipeline;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(pipeline);
