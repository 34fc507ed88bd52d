//! Amazon Security Lake's VPC flow logs: OCSF 4001 Network Activity in Parquet (source version
//! 1.0 = OCSF 1.0.0-rc.2, 2.0 = OCSF 1.1.0), read with projection of the nested leaves the
//! mapping needs and turned back into flow-log fields, so enrichment and detection see the same
//! canonical batches as for the raw logs.
//!
//! The reverse of the documented mapping (`ocsf/examples` AWS VPC Flowlogs):
//! - the ENI, VPC, subnet and instance sit on the local endpoint: `dst_endpoint` for inbound
//!   (`direction_id` 1), `src_endpoint` for outbound (2); without a direction, whichever
//!   endpoint carries an `interface_uid`;
//! - `endpoint.ip` is the packet address (`pkt-srcaddr`/`pkt-dstaddr`); when it differs from the
//!   ENI-level address, that one is `intermediate_ips[0]` (`srcaddr`/`dstaddr`);
//! - `connection_info.boundary_id` 4..11 is `traffic-path` 1..8 (99 or absent: none);
//! - `time`/`start_time`/`end_time` are milliseconds (or Parquet timestamps): seconds;
//! - `action_id` (else `disposition_id`, else `activity_id` 6 Traffic / 5 Refuse) is the action;
//! - `"-"` strings are nulls, as in text logs; `unmapped` keys named like flow-log fields
//!   (`sublocation_id`, `reject_reason`, `ecs_*`, ...) are those fields, others go to `extra`.
//!
//! A row of another OCSF class (`class_uid` present and not 4001) is a counted skip.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Int64Array, PrimitiveArray, RecordBatch,
    StringArray, UInt32Array,
};
use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::parquet::Converter;
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{F, NUM_FIELDS};

/// OCSF Network Activity's class id.
pub const CLASS_NETWORK_ACTIVITY: i64 = 4001;

/// A Parquet schema is OCSF when it has the nested endpoint objects and not the flat flow-log
/// columns (Security Lake objects never have `interface_id` at the top level).
pub fn is_ocsf(schema: &Schema) -> bool {
    let is_struct = |n: &str| {
        schema
            .field_with_name(n)
            .is_ok_and(|f| matches!(f.data_type(), DataType::Struct(_)))
    };
    (is_struct("src_endpoint") || is_struct("dst_endpoint"))
        && schema.field_with_name("interface_id").is_err()
}

/// Leaves the mapping reads (a leaf is read when one of these is a prefix of its path).
const LEAVES: &[&[&str]] = &[
    &["class_uid"],
    &["time"],
    &["start_time"],
    &["end_time"],
    &["time_dt"],
    &["start_time_dt"],
    &["end_time_dt"],
    &["status_code"],
    &["action_id"],
    &["disposition_id"],
    &["activity_id"],
    &["metadata", "product", "version"],
    &["cloud", "account", "uid"],
    &["cloud", "account_uid"],
    &["cloud", "region"],
    &["cloud", "zone"],
    &["src_endpoint", "ip"],
    &["src_endpoint", "port"],
    &["src_endpoint", "interface_uid"],
    &["src_endpoint", "vpc_uid"],
    &["src_endpoint", "subnet_uid"],
    &["src_endpoint", "instance_uid"],
    &["src_endpoint", "svc_name"],
    &["src_endpoint", "intermediate_ips"],
    &["dst_endpoint", "ip"],
    &["dst_endpoint", "port"],
    &["dst_endpoint", "interface_uid"],
    &["dst_endpoint", "vpc_uid"],
    &["dst_endpoint", "subnet_uid"],
    &["dst_endpoint", "instance_uid"],
    &["dst_endpoint", "svc_name"],
    &["dst_endpoint", "intermediate_ips"],
    &["connection_info", "protocol_num"],
    &["connection_info", "direction_id"],
    &["connection_info", "boundary_id"],
    &["connection_info", "tcp_flags"],
    &["connection_info", "protocol_ver"],
    &["traffic", "bytes"],
    &["traffic", "packets"],
    &["unmapped"],
];

/// The column at `path` (through nested structs), if the file has it.
fn at(batch: &RecordBatch, path: &[&str]) -> Option<ArrayRef> {
    let (first, rest) = path.split_first()?;
    let mut a = batch.column_by_name(first)?.clone();
    for p in rest {
        a = a.as_struct_opt()?.column_by_name(p)?.clone();
    }
    Some(a)
}

/// Integer values of a numeric or timestamp column, with the divisor that turns them into
/// seconds when they are times (`ms_default`: plain integers are OCSF milliseconds).
fn ints(a: &dyn Array) -> Option<(Vec<Option<i64>>, i64)> {
    macro_rules! p {
        ($t:ty, $div:expr) => {
            (
                a.as_primitive::<$t>()
                    .iter()
                    .map(|v| v.and_then(|v| i64::try_from(v).ok()))
                    .collect(),
                $div,
            )
        };
    }
    Some(match a.data_type() {
        DataType::Int8 => p!(Int8Type, 1000),
        DataType::Int16 => p!(Int16Type, 1000),
        DataType::Int32 => p!(Int32Type, 1000),
        DataType::Int64 => p!(Int64Type, 1000),
        DataType::UInt8 => p!(UInt8Type, 1000),
        DataType::UInt16 => p!(UInt16Type, 1000),
        DataType::UInt32 => p!(UInt32Type, 1000),
        DataType::UInt64 => p!(UInt64Type, 1000),
        DataType::Timestamp(TimeUnit::Second, _) => p!(TimestampSecondType, 1),
        DataType::Timestamp(TimeUnit::Millisecond, _) => p!(TimestampMillisecondType, 1000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => p!(TimestampMicrosecondType, 1_000_000),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            p!(TimestampNanosecondType, 1_000_000_000)
        }
        _ => return None,
    })
}

/// Seconds from an OCSF time column (`*_dt` siblings may be timestamps or datetime strings).
fn seconds(a: &dyn Array) -> Option<Vec<Option<i64>>> {
    if let Some(s) = a.as_string_opt::<i32>() {
        return Some(
            s.iter()
                .map(|v| v.and_then(crate::time::parse_rfc3339))
                .collect(),
        );
    }
    let (v, div) = ints(a)?;
    Some(
        v.into_iter()
            .map(|x| x.map(|x| x.div_euclid(div)))
            .collect(),
    )
}

/// A two-value dictionary column (`ACCEPT`/`REJECT`, `ingress`/`egress`) from per-row keys, so
/// the canonical conversion takes its dictionary path.
fn two_words(keys: Vec<Option<i32>>, words: [&str; 2]) -> ArrayRef {
    let keys: PrimitiveArray<Int32Type> = keys.into_iter().collect();
    let values: ArrayRef = Arc::new(StringArray::from(words.to_vec()));
    match DictionaryArray::try_new(keys, values) {
        Ok(d) => Arc::new(d),
        // Keys are 0 or 1 by construction.
        Err(_) => arrow_array::new_null_array(
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            0,
        ),
    }
}

/// The first element of each row of a list column (null for empty or null lists).
fn first_of_list(a: &dyn Array) -> Option<ArrayRef> {
    let (values, starts, ends): (ArrayRef, Vec<usize>, Vec<usize>) = match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            (
                l.values().clone(),
                o[..o.len() - 1].iter().map(|&x| x as usize).collect(),
                o[1..].iter().map(|&x| x as usize).collect(),
            )
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            (
                l.values().clone(),
                o[..o.len() - 1].iter().map(|&x| x as usize).collect(),
                o[1..].iter().map(|&x| x as usize).collect(),
            )
        }
        _ => return None,
    };
    let idx: UInt32Array = (0..a.len())
        .map(|r| (a.is_valid(r) && ends[r] > starts[r]).then_some(starts[r] as u32))
        .collect();
    arrow_select::take::take(values.as_ref(), &idx, None).ok()
}

/// `a` where `mask` is true, else `b` (same types; otherwise `a`'s rows where it has values).
fn choose(mask: &BooleanArray, a: &ArrayRef, b: &ArrayRef) -> ArrayRef {
    if a.data_type() == b.data_type() {
        if let Ok(z) = arrow_select::zip::zip(mask, a, b) {
            return z;
        }
    }
    a.clone()
}

fn not_null(a: &ArrayRef) -> BooleanArray {
    (0..a.len()).map(|r| Some(a.is_valid(r))).collect()
}

/// Converts one OCSF batch into source columns mapped to flow-log fields (and `extra`), plus
/// the rows refused as another class.
struct Mapped {
    mapping: Vec<F>,
    arrays: Vec<ArrayRef>,
    extra: Option<ArrayRef>,
    refused: Vec<Option<&'static str>>,
}

fn map_batch(batch: &RecordBatch, want: &dyn Fn(F) -> bool) -> Mapped {
    let rows = batch.num_rows();
    let mut m = Mapped {
        mapping: Vec::new(),
        arrays: Vec::new(),
        extra: None,
        refused: vec![None; rows],
    };
    let put = |m: &mut Mapped, f: F, a: Option<ArrayRef>| {
        if let Some(a) = a {
            if want(f) && !m.mapping.contains(&f) {
                m.mapping.push(f);
                m.arrays.push(a);
            }
        }
    };

    if let Some((class, _)) = at(batch, &["class_uid"]).and_then(|a| ints(a.as_ref())) {
        for (r, c) in class.iter().enumerate() {
            if c.is_some_and(|c| c != CLASS_NETWORK_ACTIVITY) {
                m.refused[r] = Some("OCSF class_uid is not 4001 Network Activity");
            }
        }
    }

    // Direction picks the local endpoint.
    let dir = at(batch, &["connection_info", "direction_id"])
        .and_then(|a| ints(a.as_ref()))
        .map(|(v, _)| v);
    let src_eni = at(batch, &["src_endpoint", "interface_uid"]);
    let use_dst: BooleanArray = (0..rows)
        .map(|r| {
            Some(match dir.as_ref().and_then(|d| d[r]) {
                Some(1) => true,
                Some(2) => false,
                _ => src_eni.as_ref().is_none_or(|s| s.is_null(r)),
            })
        })
        .collect();
    if let Some(d) = &dir {
        let keys = d
            .iter()
            .map(|v| match v {
                Some(1) => Some(0),
                Some(2) => Some(1),
                _ => None,
            })
            .collect();
        put(
            &mut m,
            F::FlowDirection,
            Some(two_words(keys, ["ingress", "egress"])),
        );
    }
    for (f, leaf) in [
        (F::InterfaceId, "interface_uid"),
        (F::VpcId, "vpc_uid"),
        (F::SubnetId, "subnet_uid"),
        (F::InstanceId, "instance_uid"),
    ] {
        let s = at(batch, &["src_endpoint", leaf]);
        let d = at(batch, &["dst_endpoint", leaf]);
        let a = match (d, s) {
            (Some(d), Some(s)) => Some(choose(&use_dst, &d, &s)),
            (d, s) => d.or(s),
        };
        put(&mut m, f, a);
    }

    // Addresses: `ip` is the packet address; the ENI-level one is the intermediate address.
    for (side, addr, pkt) in [
        ("src_endpoint", F::SrcAddr, F::PktSrcAddr),
        ("dst_endpoint", F::DstAddr, F::PktDstAddr),
    ] {
        let ip = at(batch, &[side, "ip"]);
        let mid = at(batch, &[side, "intermediate_ips"]).and_then(|a| first_of_list(a.as_ref()));
        let a = match (&ip, mid) {
            (Some(ip), Some(mid)) => Some(choose(&not_null(&mid), &mid, ip)),
            (ip, mid) => ip.clone().or(mid),
        };
        put(&mut m, addr, a);
        put(&mut m, pkt, ip);
    }
    put(&mut m, F::SrcPort, at(batch, &["src_endpoint", "port"]));
    put(&mut m, F::DstPort, at(batch, &["dst_endpoint", "port"]));
    put(
        &mut m,
        F::PktSrcAwsService,
        at(batch, &["src_endpoint", "svc_name"]),
    );
    put(
        &mut m,
        F::PktDstAwsService,
        at(batch, &["dst_endpoint", "svc_name"]),
    );
    put(
        &mut m,
        F::Protocol,
        at(batch, &["connection_info", "protocol_num"]),
    );
    put(
        &mut m,
        F::TcpFlags,
        at(batch, &["connection_info", "tcp_flags"]),
    );
    put(
        &mut m,
        F::Type,
        at(batch, &["connection_info", "protocol_ver"]),
    );
    put(&mut m, F::Packets, at(batch, &["traffic", "packets"]));
    put(&mut m, F::Bytes, at(batch, &["traffic", "bytes"]));
    put(&mut m, F::LogStatus, at(batch, &["status_code"]));
    put(
        &mut m,
        F::Version,
        at(batch, &["metadata", "product", "version"]),
    );
    put(
        &mut m,
        F::AccountId,
        at(batch, &["cloud", "account", "uid"]).or_else(|| at(batch, &["cloud", "account_uid"])),
    );
    put(&mut m, F::Region, at(batch, &["cloud", "region"]));
    put(&mut m, F::AzId, at(batch, &["cloud", "zone"]));

    if let Some(b) = at(batch, &["connection_info", "boundary_id"]).and_then(|a| ints(a.as_ref())) {
        let tp: Int64Array =
            b.0.iter()
                .map(|v| v.filter(|v| (4..=11).contains(v)).map(|v| v - 3))
                .collect();
        put(&mut m, F::TrafficPath, Some(Arc::new(tp)));
    }

    // The first of the candidates that has a value, per row.
    let time = |names: &[&str]| -> Option<ArrayRef> {
        let cols: Vec<Vec<Option<i64>>> = names
            .iter()
            .filter_map(|n| at(batch, &[n]).and_then(|a| seconds(a.as_ref())))
            .collect();
        if cols.is_empty() {
            return None;
        }
        let a: Int64Array = (0..rows).map(|r| cols.iter().find_map(|c| c[r])).collect();
        Some(Arc::new(a))
    };
    put(
        &mut m,
        F::Start,
        time(&["start_time", "time", "start_time_dt", "time_dt"]),
    );
    put(&mut m, F::End, time(&["end_time", "end_time_dt"]));

    let col = |p: &str| at(batch, &[p]).and_then(|a| ints(a.as_ref())).map(|v| v.0);
    let (action, disp, act) = (col("action_id"), col("disposition_id"), col("activity_id"));
    if action.is_some() || disp.is_some() || act.is_some() {
        let get = |c: &Option<Vec<Option<i64>>>, r: usize| c.as_ref().and_then(|c| c[r]);
        let keys = (0..rows)
            .map(|r| match (get(&action, r), get(&disp, r), get(&act, r)) {
                (Some(1), ..) => Some(0),
                (Some(2), ..) => Some(1),
                (_, Some(1), _) => Some(0),
                (_, Some(2), _) => Some(1),
                (.., Some(6)) => Some(0),
                (.., Some(5)) => Some(1),
                _ => None,
            })
            .collect();
        put(
            &mut m,
            F::Action,
            Some(two_words(keys, ["ACCEPT", "REJECT"])),
        );
    }

    if let Some(u) = batch.column_by_name("unmapped") {
        unmapped(u.as_ref(), &mut m, want);
    }
    m
}

/// Flow-log fields from `unmapped` (a map of strings, or a struct of string columns); other
/// keys become `extra` pairs so nothing the source carried is lost.
fn unmapped(u: &dyn Array, m: &mut Mapped, want: &dyn Fn(F) -> bool) {
    if let Some(s) = u.as_struct_opt() {
        for (field, col) in s.fields().iter().zip(s.columns()) {
            if let Some(f) = F::lookup(field.name().as_bytes()) {
                if want(f) && !m.mapping.contains(&f) {
                    m.mapping.push(f);
                    m.arrays.push(col.clone());
                }
            }
        }
        return;
    }
    let Some(map) = u.as_map_opt() else {
        tracing::debug!("OCSF unmapped column of type {} is not read", u.data_type());
        return;
    };
    let (Some(keys), Some(values)) = (
        map.keys().as_string_opt::<i32>(),
        map.values().as_string_opt::<i32>(),
    ) else {
        tracing::debug!("OCSF unmapped map without string keys and values is not read");
        return;
    };
    let rows = u.len();
    let offsets = map.value_offsets();
    // Per field, the entry holding it in each row; gathered with one `take` per field.
    let mut slots: Vec<(F, Vec<Option<u32>>)> = Vec::new();
    let mut extra = arrow_array::builder::StringBuilder::with_capacity(rows, 0);
    let mut any_extra = false;
    for r in 0..rows {
        let mut first = true;
        if u.is_valid(r) {
            for e in offsets[r] as usize..offsets[r + 1] as usize {
                if keys.is_null(e) {
                    continue;
                }
                let k = keys.value(e);
                match F::lookup(k.as_bytes()) {
                    Some(f) if m.mapping.contains(&f) => {}
                    Some(f) => {
                        if !want(f) {
                            continue;
                        }
                        let slot = match slots.iter().position(|(g, _)| *g == f) {
                            Some(i) => i,
                            None => {
                                slots.push((f, vec![None; rows]));
                                slots.len() - 1
                            }
                        };
                        slots[slot].1[r] = Some(e as u32);
                    }
                    None if values.is_valid(e) => {
                        use std::fmt::Write;
                        if !first {
                            extra.write_char(' ').ok();
                        }
                        first = false;
                        any_extra = true;
                        let _ = write!(extra, "{k}={}", values.value(e));
                    }
                    None => {}
                }
            }
        }
        if first {
            extra.append_null();
        } else {
            extra.append_value("");
        }
    }
    for (f, idx) in slots {
        let idx: UInt32Array = idx.into_iter().collect();
        if let Ok(a) = arrow_select::take::take(map.values().as_ref(), &idx, None) {
            m.mapping.push(f);
            m.arrays.push(a);
        }
    }
    if any_extra {
        m.extra = Some(Arc::new(extra.finish()));
    }
}

/// Decodes one OCSF Parquet object whose metadata was already read by the Parquet decoder.
pub fn decode<T: ChunkReader + 'static>(
    input: T,
    meta: ArrowReaderMetadata,
    file: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let perr = |e: parquet::errors::ParquetError| DecodeError::Parquet {
        file: file.to_string(),
        message: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta);
    let descr = builder.parquet_schema();
    let leaves: Vec<usize> = (0..descr.num_columns())
        .filter(|&i| {
            let parts = descr.column(i).path().parts().to_vec();
            LEAVES
                .iter()
                .any(|w| w.len() <= parts.len() && w.iter().zip(&parts).all(|(a, b)| a == b))
        })
        .collect();
    if leaves.is_empty() {
        return Err(DecodeError::Parquet {
            file: file.to_string(),
            message: "OCSF file without any field of the VPC flow mapping".into(),
        });
    }
    let mask = ProjectionMask::leaves(descr, leaves);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(opts.batch_size)
        .build()
        .map_err(perr)?;
    let mut wanted = [opts.projection.is_none(); NUM_FIELDS];
    for f in opts.projection.iter().flatten() {
        wanted[f.index()] = true;
    }
    let want = |f: F| wanted[f.index()];
    let mut conv = Converter::default();
    for batch in reader {
        let batch = batch.map_err(|e| DecodeError::Parquet {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let m = map_batch(&batch, &want);
        if m.arrays.is_empty() {
            // Nothing projected maps (a scan always projects some): still count the rows.
            let null: ArrayRef = Arc::new(arrow_array::new_null_array(
                &DataType::Int64,
                batch.num_rows(),
            ));
            conv.batch(
                &[F::Start],
                &[null],
                None,
                &m.refused,
                file,
                opts,
                stats,
                sink,
            )?;
            continue;
        }
        conv.batch(
            &m.mapping, &m.arrays, m.extra, &m.refused, file, opts, stats, sink,
        )?;
    }
    Ok(())
}
