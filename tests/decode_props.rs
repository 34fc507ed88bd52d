//! Property tests for the text decoder: any subset of documented fields, in any order, with any
//! valid values and any run of separators, decodes back to exactly the values written.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt8Type};
use arrow_array::{Array, RecordBatch};
use bytes::Bytes;
use egresswatch::decode::{decode_input, DecodeOptions, FileStats, Input};
use egresswatch::net::ip;
use egresswatch::schema::{self, Kind, ALL, F, FIELDS};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Int(i64),
    Ip(u128),
    Str(String),
}

fn value(kind: Kind) -> BoxedStrategy<(String, V)> {
    let null = Just(("-".to_string(), V::Null));
    match kind {
        Kind::Str => prop_oneof![1 => null, 6 => "[A-Za-z0-9:/._]{1,20}".prop_map(|s| (s.clone(), V::Str(s)))].boxed(),
        Kind::Ip => prop_oneof![
            1 => null,
            3 => any::<u32>().prop_map(|a| (std::net::Ipv4Addr::from(a).to_string(), V::Ip(ip::from_v4(a)))),
            2 => any::<u128>().prop_filter("not v4-mapped", |a| !ip::is_v4(*a)).prop_map(|a| (std::net::Ipv6Addr::from(a).to_string(), V::Ip(a))),
        ]
        .boxed(),
        Kind::U8 => prop_oneof![1 => null, 5 => (0..=255i64).prop_map(|v| (v.to_string(), V::Int(v)))].boxed(),
        Kind::U16 => prop_oneof![1 => null, 5 => (0..=65535i64).prop_map(|v| (v.to_string(), V::Int(v)))].boxed(),
        Kind::I32 => prop_oneof![1 => null, 5 => (0..=i32::MAX as i64).prop_map(|v| (v.to_string(), V::Int(v)))].boxed(),
        Kind::I64 => prop_oneof![1 => null, 5 => (0..=i64::MAX).prop_map(|v| (v.to_string(), V::Int(v)))].boxed(),
        Kind::Action => prop_oneof![
            Just(("-".to_string(), V::Null)),
            Just(("ACCEPT".to_string(), V::Int(schema::ACTION_ACCEPT as i64))),
            Just(("REJECT".to_string(), V::Int(schema::ACTION_REJECT as i64))),
        ]
        .boxed(),
        Kind::LogStatus => prop_oneof![
            Just(("OK".to_string(), V::Int(0))),
            Just(("NODATA".to_string(), V::Int(1))),
            Just(("SKIPDATA".to_string(), V::Int(2))),
        ]
        .boxed(),
        Kind::Direction => prop_oneof![
            Just(("-".to_string(), V::Null)),
            Just(("ingress".to_string(), V::Int(1))),
            Just(("egress".to_string(), V::Int(2))),
        ]
        .boxed(),
    }
}

/// A layout (distinct fields in random order) and rows of values for it.
type Row = Vec<(String, V)>;

fn file() -> impl Strategy<Value = (Vec<F>, Vec<Row>, Vec<usize>)> {
    proptest::sample::subsequence(ALL.to_vec(), 1..=FIELDS.len())
        .prop_shuffle()
        .prop_flat_map(|fields| {
            let row = fields
                .iter()
                .map(|f| value(f.def().kind))
                .collect::<Vec<_>>();
            let n = fields.len();
            (
                Just(fields),
                proptest::collection::vec(row, 1..20),
                proptest::collection::vec(1usize..4, n),
            )
        })
}

fn actual(batch: &RecordBatch, f: F, row: usize) -> V {
    let col = batch.column(f.index());
    if col.is_null(row) {
        return V::Null;
    }
    match f.def().kind {
        Kind::Str => V::Str(
            egresswatch::enrich::DictView::new(col.as_ref())
                .and_then(|d| d.get(row))
                .unwrap()
                .to_string(),
        ),
        Kind::Ip => V::Ip(ip::from_bytes(col.as_fixed_size_binary().value(row)).unwrap()),
        Kind::U16 => V::Int(col.as_primitive::<UInt16Type>().value(row) as i64),
        Kind::I32 => V::Int(col.as_primitive::<Int32Type>().value(row) as i64),
        Kind::I64 => V::Int(col.as_primitive::<Int64Type>().value(row)),
        Kind::U8 | Kind::Action | Kind::LogStatus | Kind::Direction => {
            V::Int(col.as_primitive::<UInt8Type>().value(row) as i64)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_field_order_round_trips((fields, rows, gaps) in file(), gzip in any::<bool>(), batch_size in 1usize..8) {
        let sep = |i: usize| " ".repeat(gaps[i]);
        let mut text = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 { text.push_str(&sep(i)); }
            text.push_str(f.def().name);
        }
        text.push('\n');
        for row in &rows {
            for (i, (tok, _)) in row.iter().enumerate() {
                if i > 0 { text.push_str(&sep(i)); }
                text.push_str(tok);
            }
            text.push('\n');
        }
        let data = if gzip {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        } else {
            text.into_bytes()
        };
        let opts = DecodeOptions { batch_size, ..Default::default() };
        let mut stats = FileStats::new(&opts);
        let mut batches = Vec::new();
        decode_input(&Input::Memory { name: "p".into(), data: Bytes::from(data) }, &opts, &mut stats, &mut |b| batches.push(b)).unwrap();
        prop_assert_eq!(stats.skipped, 0, "{:?}", stats.samples);
        prop_assert_eq!(stats.records as usize, rows.len());
        prop_assert!(batches.iter().all(|b| b.num_rows() <= batch_size));
        let mut r = 0;
        for b in &batches {
            for i in 0..b.num_rows() {
                for (fi, f) in fields.iter().enumerate() {
                    prop_assert_eq!(&actual(b, *f, i), &rows[r][fi].1, "field {} row {}", f.def().name, r);
                }
                // Fields not in the layout are null.
                for f in ALL.iter().filter(|f| !fields.contains(f)) {
                    prop_assert!(b.column(f.index()).is_null(i));
                }
                r += 1;
            }
        }
        let nodata = rows.iter().filter(|row| fields.iter().zip(row.iter()).any(|(f, (_, v))| *f == F::LogStatus && *v == V::Int(1))).count();
        prop_assert_eq!(stats.nodata as usize, nodata);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2000), header in any::<bool>()) {
        let mut bytes = Vec::new();
        if header {
            bytes.extend_from_slice(b"version srcaddr dstaddr action log-status\n");
        }
        bytes.extend(data);
        let opts = DecodeOptions::default();
        let mut stats = FileStats::new(&opts);
        let _ = decode_input(&Input::Memory { name: "fuzz".into(), data: Bytes::from(bytes) }, &opts, &mut stats, &mut |_| {});
    }
}

/// A line for the fast/reference equivalence test: mostly well-formed records of the layout,
/// with every shape the fast path must hand over (or handle identically) mixed in.
fn messy_line(fields: &[F]) -> BoxedStrategy<String> {
    let good = fields
        .iter()
        .map(|f| value(f.def().kind).prop_map(|(t, _)| t))
        .collect::<Vec<_>>()
        .prop_map(|toks| toks.join(" "));
    let header = Just(
        fields
            .iter()
            .map(|f| f.def().name)
            .collect::<Vec<_>>()
            .join(" "),
    );
    prop_oneof![
        12 => good.clone(),
        1 => good.clone().prop_map(|l| l.replacen(' ', "  ", 1)),
        1 => good.clone().prop_map(|l| l.replacen(' ', "\t", 1)),
        1 => good.clone().prop_map(|l| format!("{l}\r")),
        1 => good.clone().prop_map(|l| format!(" {l}")),
        1 => good.clone().prop_map(|l| format!("{l} ")),
        1 => good.clone().prop_map(|l| format!("{l} extra")),
        1 => good.clone().prop_map(|l| l.rsplit_once(' ').map_or(l.clone(), |(a, _)| a.to_string())),
        1 => good.clone().prop_map(|l| l.replacen('1', "x", 1)),
        1 => good.clone().prop_map(|l| l.replacen('2', "-7", 1)),
        1 => good.clone().prop_map(|l| l.replacen('3', "é", 1)),
        1 => good.prop_map(|l| l.replacen('4', "99999999999999999999", 1)),
        1 => Just(String::new()),
        1 => header,
        1 => Just("version srcaddr dstaddr action log-status".to_string()),
        1 => "[ -~]{0,40}",
    ]
    .boxed()
}

fn decode_with(data: &[u8], opts: &DecodeOptions) -> (FileStats, Vec<RecordBatch>) {
    let mut stats = FileStats::new(opts);
    let mut batches = Vec::new();
    let _ = decode_input(
        &Input::Memory {
            name: "eq".into(),
            data: Bytes::from(data.to_vec()),
        },
        opts,
        &mut stats,
        &mut |b| batches.push(b),
    );
    (stats, batches)
}

/// Rows as comparable values, whatever batch they landed in.
fn rows_of(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut row: Vec<String> = ALL
                .iter()
                .map(|f| format!("{:?}", actual(b, *f, i)))
                .collect();
            let extra = b.column(schema::COL_EXTRA);
            row.push(if extra.is_null(i) {
                "-".into()
            } else {
                extra.as_string::<i32>().value(i).to_string()
            });
            row.push(
                b.column(schema::COL_LINE)
                    .as_primitive::<arrow_array::types::UInt64Type>()
                    .value(i)
                    .to_string(),
            );
            rows.push(row);
        }
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The fast path and the reference parser give the same rows, line numbers, counts and
    /// skips for any mix of good and bad lines, any batch size and any projection.
    #[test]
    fn fast_path_equals_reference_parser(
        (fields, lines) in proptest::sample::subsequence(ALL.to_vec(), 1..=FIELDS.len())
            .prop_shuffle()
            .prop_flat_map(|fields| {
                let lines = proptest::collection::vec(messy_line(&fields), 1..60);
                (Just(fields), lines)
            }),
        header in any::<bool>(),
        batch_size in 1usize..40,
        project in any::<bool>(),
        max_line_len in prop_oneof![3 => Just(64 * 1024), 1 => 20usize..200],
    ) {
        let mut text = String::new();
        if header {
            text.push_str(&fields.iter().map(|f| f.def().name).collect::<Vec<_>>().join(" "));
            text.push('\n');
        }
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        let projection = project.then(|| fields.iter().copied().step_by(2).collect::<Vec<_>>());
        let opts = DecodeOptions { batch_size, projection, max_line_len, ..Default::default() };
        let (fs, fb) = decode_with(text.as_bytes(), &opts);
        let (rs, rb) = decode_with(text.as_bytes(), &DecodeOptions { reference_only: true, ..opts.clone() });
        prop_assert_eq!((fs.records, fs.nodata, fs.skipdata, fs.skipped, fs.headers), (rs.records, rs.nodata, rs.skipdata, rs.skipped, rs.headers));
        prop_assert_eq!(&fs.samples, &rs.samples);
        prop_assert!(fb.iter().all(|b| b.num_rows() <= batch_size));
        prop_assert_eq!(rows_of(&fb), rows_of(&rb));
    }
}

/// Many chunks and blocks: a deterministic mix of good and bad default-format lines, long
/// enough to cross the fast path's chunk and block boundaries, gzip and plain.
#[test]
fn fast_path_equals_reference_parser_across_chunks_and_blocks() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::from("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
    for i in 0..12_000u64 {
        let r = next();
        let mut line = format!(
            "2 123456789010 eni-{:017x} 10.{}.{}.{} {}.{}.{}.{} {} {} 6 {} {} {} {} {} {}",
            r % 97,
            r % 256,
            (r >> 8) % 256,
            (r >> 16) % 256,
            (r >> 24) % 256,
            (r >> 32) % 256,
            (r >> 40) % 256,
            (r >> 48) % 256,
            (r >> 20) % 65536,
            (r >> 3) % 1000,
            r % 10_000,
            r % 10_000_000,
            1_700_000_000 + i,
            1_700_000_060 + i,
            if r % 7 == 0 { "REJECT" } else { "ACCEPT" },
            ["OK", "OK", "OK", "NODATA", "SKIPDATA"][(r % 5) as usize]
        );
        match (r >> 56) % 64 {
            0 => line = line.replacen(' ', "  ", 1),
            1 => line.push('\r'),
            2 => line = line.replacen("10.", "1::", 1),
            3 => line = line.replacen(" 6 ", " x ", 1),
            4 => line.push_str(" extra"),
            5 => line = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".into(),
            6 => line = String::new(),
            7 => line = line.replacen("ACCEPT", "ACCEPTED", 1),
            8 => line = line.replacen(" 6 ", " -6 ", 1),
            9 => line = format!("{line}{}", "9".repeat(300)),
            _ => {}
        }
        text.push_str(&line);
        text.push('\n');
    }
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    for data in [text.as_bytes().to_vec(), gz] {
        for batch_size in [8192, 7] {
            let opts = DecodeOptions {
                batch_size,
                max_line_len: 400,
                ..Default::default()
            };
            let (fs, fb) = decode_with(&data, &opts);
            let (rs, rb) = decode_with(
                &data,
                &DecodeOptions {
                    reference_only: true,
                    ..opts.clone()
                },
            );
            assert!(
                fs.records > 9_000 && fs.skipped > 300 && fs.nodata > 1000,
                "{fs:?}"
            );
            assert_eq!(
                (fs.records, fs.nodata, fs.skipdata, fs.skipped, fs.headers),
                (rs.records, rs.nodata, rs.skipdata, rs.skipped, rs.headers)
            );
            assert_eq!(fs.samples, rs.samples);
            assert_eq!(rows_of(&fb), rows_of(&rb));
        }
    }
}
