//! Parquet flow logs as AWS writes them (underscored column names, int32/int64 numbers, strings
//! for addresses), read with column projection and converted column by column into the
//! canonical schema.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, UInt64Array};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::builder::Col;
use super::values::{self, BadValue, Val};
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{self, Kind, ALL, COL_EXTRA, F, NUM_FIELDS, STATUS_NODATA, STATUS_SKIPDATA};

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

/// Converts one source column into the canonical type of `f`, marking rows that cannot be
/// converted in `bad` (with the first reason kept for the skip log).
fn convert(
    f: F,
    acc: &Acc<'_>,
    rows: usize,
    bad: &mut [bool],
    reason: &mut [Option<(F, BadValue)>],
    scratch: &mut String,
) -> Result<ArrayRef, arrow_schema::ArrowError> {
    let kind = f.def().kind;
    let mut col = Col::new(kind, rows);
    let mut fail = |i: usize, why: BadValue, col: &mut Col| {
        bad[i] = true;
        reason[i].get_or_insert((f, why));
        col.append_null();
    };
    for i in 0..rows {
        if acc.is_int() {
            match (kind, acc.int(i)) {
                (_, None) => col.append_null(),
                (_, Some(Err(why))) => fail(i, why, &mut col),
                (Kind::Str, Some(Ok(v))) => {
                    use std::fmt::Write;
                    scratch.clear();
                    let _ = write!(scratch, "{v}");
                    if let Col::Str(c) = &mut col {
                        c.append(Some(scratch.as_bytes()));
                    }
                }
                (Kind::Ip | Kind::Action | Kind::LogStatus | Kind::Direction, Some(Ok(_))) => {
                    fail(i, BadValue::Integer, &mut col)
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
                        fail(i, BadValue::OutOfRange, &mut col)
                    } else {
                        col.append_int(Some(v))
                    }
                }
            }
        } else {
            let Some(tok) = acc.bytes(i) else {
                col.append_null();
                continue;
            };
            match values::parse(kind, tok, 0) {
                Ok(Val::Null) => col.append_null(),
                Ok(Val::Int(v)) => col.append_int(Some(v)),
                Ok(Val::Ip(k)) => match &mut col {
                    Col::Ip(c) => c.append(Some(k)),
                    c => c.append_null(),
                },
                Ok(Val::Str(..)) => match &mut col {
                    Col::Str(c) => c.append(Some(tok)),
                    c => c.append_null(),
                },
                Err(why) => fail(i, why, &mut col),
            }
        }
    }
    col.finish()
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

    let schema = schema::canonical();
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
        let mut columns: Vec<Option<ArrayRef>> = vec![None; NUM_FIELDS];
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
            let out = convert(*f, &acc, rows, &mut bad, &mut reason, &mut scratch).map_err(aerr)?;
            columns[f.index()] = Some(out);
        }
        let mut arrays: Vec<ArrayRef> = columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.unwrap_or_else(|| new_null_array(&ALL[i].def().kind.data_type(), rows)))
            .collect();
        arrays.push(new_null_array(schema.field(COL_EXTRA).data_type(), rows));
        arrays.push(Arc::new(UInt64Array::from_iter_values(
            (1..=rows as u64).map(|r| row_base + r),
        )));
        let mut out = RecordBatch::try_new(schema.clone(), arrays).map_err(aerr)?;
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
