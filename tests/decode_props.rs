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
        Kind::Str => V::Str(col.as_string::<i32>().value(row).to_string()),
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
