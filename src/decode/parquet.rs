//! Parquet flow logs as AWS writes them (underscored column names, int32/int64 numbers, strings
//! for addresses), read with column projection and converted column by column into the
//! canonical schema.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::columns::Columns;
use super::values::{self, BadValue, Val};
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{Kind, F, NUM_FIELDS, STATUS_NODATA, STATUS_SKIPDATA};

/// Typed view of one source column, chosen once per batch so the row loop only branches on a
/// small enum.
enum Acc<'a> {
    I8(&'a arrow_array::Int8Array),
    I16(&'a arrow_array::Int16Array),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    U8(&'a arrow_array::UInt8Array),
    U16(&'a arrow_array::UInt16Array),
    U32(&'a arrow_array::UInt32Array),
    U64(&'a arrow_array::UInt64Array),
    Str(&'a arrow_array::StringArray),
    LStr(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Bin(&'a arrow_array::BinaryArray),
    Null,
}

impl<'a> Acc<'a> {
    fn new(a: &'a dyn Array) -> Option<Self> {
        Some(match a.data_type() {
            DataType::Int8 => Acc::I8(a.as_primitive::<Int8Type>()),
            DataType::Int16 => Acc::I16(a.as_primitive::<Int16Type>()),
            DataType::Int32 => Acc::I32(a.as_primitive::<Int32Type>()),
            DataType::Int64 => Acc::I64(a.as_primitive::<Int64Type>()),
            DataType::UInt8 => Acc::U8(a.as_primitive::<UInt8Type>()),
            DataType::UInt16 => Acc::U16(a.as_primitive::<UInt16Type>()),
            DataType::UInt32 => Acc::U32(a.as_primitive::<UInt32Type>()),
            DataType::UInt64 => Acc::U64(a.as_primitive::<UInt64Type>()),
            DataType::Utf8 => Acc::Str(a.as_string::<i32>()),
            DataType::LargeUtf8 => Acc::LStr(a.as_string::<i64>()),
            DataType::Utf8View => Acc::View(a.as_string_view()),
            DataType::Binary => Acc::Bin(a.as_binary::<i32>()),
            DataType::Null => Acc::Null,
            _ => return None,
        })
    }

    fn is_int(&self) -> bool {
        !matches!(
            self,
            Acc::Str(_) | Acc::LStr(_) | Acc::View(_) | Acc::Bin(_) | Acc::Null
        )
    }

    fn int(&self, i: usize) -> Option<Result<i64, BadValue>> {
        macro_rules! p {
            ($a:expr) => {
                if $a.is_null(i) {
                    None
                } else {
                    Some(i64::try_from($a.value(i)).map_err(|_| BadValue::OutOfRange))
                }
            };
        }
        match self {
            Acc::I8(a) => p!(a),
            Acc::I16(a) => p!(a),
            Acc::I32(a) => p!(a),
            Acc::I64(a) => p!(a),
            Acc::U8(a) => p!(a),
            Acc::U16(a) => p!(a),
            Acc::U32(a) => p!(a),
            Acc::U64(a) => p!(a),
            _ => None,
        }
    }

    fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        match self {
            Acc::Str(a) => (!a.is_null(i)).then(|| a.value(i).as_bytes()),
            Acc::LStr(a) => (!a.is_null(i)).then(|| a.value(i).as_bytes()),
            Acc::View(a) => (!a.is_null(i)).then(|| a.value(i).as_bytes()),
            Acc::Bin(a) => (!a.is_null(i)).then(|| a.value(i)),
            _ => None,
        }
    }
}

/// Converts one source column into the canonical type of `f` in `cols`, marking rows that
/// cannot be converted in `bad` (with the first reason kept for the skip log).
fn convert(
    f: F,
    acc: &Acc<'_>,
    rows: usize,
    bad: &mut [bool],
    reason: &mut [Option<(F, BadValue)>],
    scratch: &mut String,
    cols: &mut Columns,
) {
    let kind = f.def().kind;
    let i = f.index();
    let mut fail = |r: usize, why: BadValue, cols: &mut Columns| {
        bad[r] = true;
        reason[r].get_or_insert((f, why));
        cols.push_null(i);
    };
    for r in 0..rows {
        if acc.is_int() {
            match (kind, acc.int(r)) {
                (_, None) => cols.push_null(i),
                (_, Some(Err(why))) => fail(r, why, cols),
                (Kind::Str, Some(Ok(v))) => {
                    use std::fmt::Write;
                    scratch.clear();
                    let _ = write!(scratch, "{v}");
                    cols.push_str(i, scratch.as_bytes());
                }
                (Kind::Ip | Kind::Action | Kind::LogStatus | Kind::Direction, Some(Ok(_))) => {
                    fail(r, BadValue::Integer, cols)
                }
                (_, Some(Ok(v))) => {
                    let max = match kind {
                        Kind::U8 => u8::MAX as i64,
                        Kind::U16 => u16::MAX as i64,
                        Kind::I32 => i32::MAX as i64,
                        _ => i64::MAX,
                    };
                    let min = match kind {
                        Kind::I32 => i32::MIN as i64,
                        Kind::I64 => i64::MIN,
                        _ => 0,
                    };
                    if v < min || v > max {
                        fail(r, BadValue::OutOfRange, cols)
                    } else {
                        cols.push_int(i, v)
                    }
                }
            }
        } else {
            let Some(tok) = acc.bytes(r) else {
                cols.push_null(i);
                continue;
            };
            match values::parse(kind, tok, 0) {
                Ok(Val::Null) => cols.push_null(i),
                Ok(Val::Int(v)) => cols.push_int(i, v),
                Ok(Val::Ip(k)) => cols.push_ip(i, k),
                Ok(Val::Str(..)) => cols.push_str(i, tok),
                Err(why) => fail(r, why, cols),
            }
        }
    }
}

/// Decodes one Parquet object, reading only the columns in `opts.projection` (all documented
/// fields when it is `None`).
pub fn decode<T: ChunkReader + 'static>(
    input: T,
    file: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let perr = |e: parquet::errors::ParquetError| DecodeError::Parquet {
        file: file.to_string(),
        message: e.to_string(),
    };
    let aerr = |source| DecodeError::Arrow {
        file: file.to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(perr)?;
    let mut roots = Vec::new();
    let mut mapping: Vec<F> = Vec::new();
    for (i, field) in builder.schema().fields().iter().enumerate() {
        let Some(f) = F::lookup(field.name().as_bytes()) else {
            continue;
        };
        if mapping.contains(&f) {
            continue;
        }
        if opts.projection.as_ref().is_some_and(|p| !p.contains(&f)) {
            continue;
        }
        roots.push(i);
        mapping.push(f);
    }
    if mapping.is_empty() {
        return Err(DecodeError::Parquet {
            file: file.to_string(),
            message: "no column is a VPC flow-log field (expected names like interface_id, srcaddr, dstaddr)".into(),
        });
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(opts.batch_size)
        .build()
        .map_err(perr)?;

    let mut present = [false; NUM_FIELDS];
    for f in &mapping {
        present[f.index()] = true;
    }
    let mut row_base: u64 = 0;
    let mut scratch = String::new();
    for batch in reader {
        let batch = batch.map_err(|e| DecodeError::Parquet {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let rows = batch.num_rows();
        let mut bad = vec![false; rows];
        let mut reason: Vec<Option<(F, BadValue)>> = vec![None; rows];
        let mut cols = Columns::new(&present, false, opts.batch_size.max(rows));
        for (f, array) in mapping.iter().zip(batch.columns()) {
            let Some(acc) = Acc::new(array.as_ref()) else {
                return Err(DecodeError::Parquet {
                    file: file.to_string(),
                    message: format!(
                        "column {} has type {}, expected an integer or string column",
                        f.def().column,
                        array.data_type()
                    ),
                });
            };
            convert(
                *f,
                &acc,
                rows,
                &mut bad,
                &mut reason,
                &mut scratch,
                &mut cols,
            );
        }
        for r in 1..=rows as u64 {
            cols.end_row(row_base + r);
        }
        let mut out = cols.finish().map_err(aerr)?;
        for (i, why) in reason.iter().enumerate() {
            if let Some((f, why)) = why {
                stats.skip(
                    file,
                    row_base + i as u64 + 1,
                    format_args!("row, column {}: {}", f.def().column, why.describe()),
                );
            }
        }
        if bad.iter().any(|&b| b) {
            let keep = BooleanArray::from_iter(bad.iter().map(|&b| Some(!b)));
            out = arrow_select::filter::filter_record_batch(&out, &keep).map_err(aerr)?;
        }
        row_base += rows as u64;
        if let Some(status) = out
            .column(F::LogStatus.index())
            .as_primitive_opt::<UInt8Type>()
        {
            for v in status.iter().flatten() {
                if v == STATUS_NODATA {
                    stats.nodata += 1;
                } else if v == STATUS_SKIPDATA {
                    stats.skipdata += 1;
                }
            }
        }
        stats.records += out.num_rows() as u64;
        if out.num_rows() > 0 {
            sink(out);
        }
    }
    Ok(())
}
