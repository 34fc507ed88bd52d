//! Parquet flow logs as AWS writes them (underscored column names, int32/int64 numbers, strings
//! for addresses), read with column projection and converted column by column into the
//! canonical schema.
//!
//! String columns are read as Arrow dictionaries, keeping Parquet's dictionary encoding: an
//! identifier column passes through untouched, and an address or enumerated column is parsed
//! once per distinct value and gathered per row. Integer columns are range-checked in one pass.
//! Columns of any other shape (numbers stored as strings, unusual types) take the general
//! value-by-value conversion.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray,
    RecordBatch, StringArray,
};
use arrow_buffer::{Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::columns::{ip_cell, Columns};
use super::values::{self, BadValue, Val};
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{self, Kind, COL_EXTRA, F, NUM_FIELDS, STATUS_NODATA, STATUS_SKIPDATA};

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

/// Rows a conversion found unreadable, with the first reason per row.
struct Bad<'a> {
    rows: &'a mut [bool],
    reason: &'a mut [Option<(F, BadValue)>],
    f: F,
}

impl Bad<'_> {
    fn mark(&mut self, r: usize, why: BadValue) {
        self.rows[r] = true;
        self.reason[r].get_or_insert((self.f, why));
    }
}

/// A dictionary column with `Int32` keys over UTF-8 values, whatever key type Parquet gave.
fn utf8_dictionary(a: &dyn Array) -> Option<DictionaryArray<Int32Type>> {
    let DataType::Dictionary(key, value) = a.data_type() else {
        return None;
    };
    if **value != DataType::Utf8 {
        return None;
    }
    macro_rules! rekey {
        ($t:ty) => {{
            let d = a.as_dictionary::<$t>();
            let keys: PrimitiveArray<Int32Type> = PrimitiveArray::new(
                d.keys().values().iter().map(|&k| k as i32).collect(),
                d.keys().nulls().cloned(),
            );
            DictionaryArray::try_new(keys, d.values().clone()).ok()
        }};
    }
    match **key {
        DataType::Int32 => Some(a.as_dictionary::<Int32Type>().clone()),
        DataType::Int8 => rekey!(Int8Type),
        DataType::Int16 => rekey!(Int16Type),
        DataType::UInt8 => rekey!(UInt8Type),
        DataType::UInt16 => rekey!(UInt16Type),
        _ => None,
    }
}

/// AWS writes `-` for a string field without a value (its Avro default); it is null, as in
/// text logs.
fn dash_as_null(d: DictionaryArray<Int32Type>) -> DictionaryArray<Int32Type> {
    let values = d.values().as_string::<i32>();
    let dash: Vec<bool> = (0..values.len())
        .map(|k| !values.is_null(k) && values.value(k) == "-")
        .collect();
    if !dash.contains(&true) {
        return d;
    }
    let keys = d.keys();
    let valid = NullBuffer::from(
        (0..keys.len())
            .map(|r| !keys.is_null(r) && !dash[keys.value(r) as usize])
            .collect::<Vec<bool>>(),
    );
    let keys = PrimitiveArray::<Int32Type>::new(keys.values().clone(), Some(valid));
    DictionaryArray::try_new(keys, d.values().clone()).unwrap_or(d)
}

/// What a dictionary entry holds after parsing.
const ENTRY_VALUE: u8 = 0;
const ENTRY_NULL: u8 = 1;
const ENTRY_BAD: u8 = 2;
/// A key past the dictionary's end (never written by a conforming reader).
const KEY_OUT_OF_RANGE: u8 = 4;

/// Parsed distinct values of one dictionary column, kept while batches share the dictionary
/// (arrow-rs hands every batch of a column chunk the chunk's whole dictionary). Values and
/// entry states are dense arrays so the per-row gather is two loads.
struct ParsedDict<T> {
    id: (usize, usize, usize),
    vals: Vec<T>,
    /// `ENTRY_*` per entry: one byte, so the gather ORs them without branching.
    state: Vec<u8>,
    /// The reason, for the skip log, exactly where `state` is `ENTRY_BAD` (read only on the
    /// slow path).
    why: Vec<Option<BadValue>>,
}

impl<T> Default for ParsedDict<T> {
    fn default() -> Self {
        ParsedDict {
            id: (0, 0, 0),
            vals: Vec::new(),
            state: Vec::new(),
            why: Vec::new(),
        }
    }
}

impl<T: Copy + Default> ParsedDict<T> {
    /// Parses each distinct value of `values` once (null entries and `-` are nulls), unless
    /// this is the dictionary parsed last time.
    fn load(&mut self, values: &StringArray, parse: impl Fn(&[u8]) -> Result<Option<T>, BadValue>) {
        let id = (
            values.values().as_ptr() as usize,
            values.value_offsets().as_ptr() as usize,
            values.len(),
        );
        if self.id == id && self.vals.len() == values.len() {
            return;
        }
        self.id = id;
        self.vals.clear();
        self.state.clear();
        self.why.clear();
        for k in 0..values.len() {
            let parsed = if values.is_null(k) {
                Ok(None)
            } else {
                parse(values.value(k).as_bytes())
            };
            let (v, st, why) = match parsed {
                Ok(Some(v)) => (v, ENTRY_VALUE, None),
                Ok(None) => (T::default(), ENTRY_NULL, None),
                Err(why) => (T::default(), ENTRY_BAD, Some(why)),
            };
            self.vals.push(v);
            self.state.push(st);
            self.why.push(why);
        }
    }
}

/// Per-column caches of parsed dictionaries.
#[derive(Default)]
struct Dicts {
    ips: Vec<ParsedDict<i128>>,
    codes: Vec<ParsedDict<u8>>,
}

/// Gathers per-row values of a dictionary column from its parsed distinct values. The common
/// batch (every key valid, no null or unreadable entry used) is one pass of two loads per row;
/// any other batch takes a second pass for validity and skips.
fn gather<T: arrow_buffer::ArrowNativeType>(
    d: &DictionaryArray<Int32Type>,
    pd: &ParsedDict<T>,
    bad: &mut Bad<'_>,
) -> (Vec<T>, Option<NullBuffer>) {
    let keys = d.keys();
    let (vals, state) = (&pd.vals[..], &pd.state[..]);
    let mut flags = 0u8;
    let mut values: Vec<T> = keys
        .values()
        .iter()
        .map(|&k| match (vals.get(k as usize), state.get(k as usize)) {
            (Some(&v), Some(&st)) => {
                flags |= st;
                v
            }
            _ => {
                flags |= KEY_OUT_OF_RANGE;
                T::default()
            }
        })
        .collect();
    if flags == ENTRY_VALUE {
        // Only the keys' own nulls (NODATA rows, for example): their bitmap is the column's.
        return (values, keys.nulls().filter(|n| n.null_count() > 0).cloned());
    }
    let mut valid = Vec::with_capacity(keys.len());
    for (r, slot) in values.iter_mut().enumerate() {
        let ok = !keys.is_null(r) && {
            let k = keys.value(r) as usize;
            match state.get(k) {
                Some(&ENTRY_VALUE) => true,
                Some(&ENTRY_NULL) => false,
                Some(_) => {
                    bad.mark(r, pd.why[k].unwrap_or(BadValue::Integer));
                    false
                }
                None => {
                    bad.mark(r, BadValue::Integer);
                    false
                }
            }
        };
        if !ok {
            *slot = T::default();
        }
        valid.push(ok);
    }
    let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
    (values, nulls)
}

/// Integers of a primitive column range-checked into `T`.
fn ints<S, T>(
    a: &PrimitiveArray<S>,
    min: i64,
    max: i64,
    bad: &mut Bad<'_>,
) -> (Vec<T>, Option<NullBuffer>)
where
    S: arrow_array::ArrowPrimitiveType,
    S::Native: Into<i64> + Copy,
    T: arrow_buffer::ArrowNativeType + TryFrom<i64>,
{
    let values = a
        .values()
        .iter()
        .enumerate()
        .map(|(r, &v)| {
            let v: i64 = v.into();
            match T::try_from(v) {
                Ok(t) if v >= min && v <= max => t,
                _ => {
                    if !a.is_null(r) {
                        bad.mark(r, BadValue::OutOfRange);
                    }
                    T::default()
                }
            }
        })
        .collect();
    (values, a.nulls().cloned())
}

/// The canonical column of `f` from a source column of the shapes AWS and common writers use;
/// `None` for any other shape (the general conversion takes it).
fn fast_column(f: F, a: &dyn Array, bad: &mut Bad<'_>, dicts: &mut Dicts) -> Option<ArrayRef> {
    let kind = f.def().kind;
    match (kind, a.data_type()) {
        (Kind::Str, DataType::Dictionary(..)) => Some(Arc::new(dash_as_null(utf8_dictionary(a)?))),
        (Kind::Ip, DataType::Dictionary(..)) => {
            let d = utf8_dictionary(a)?;
            if dicts.ips.len() <= f.index() {
                dicts.ips.resize_with(f.index() + 1, Default::default);
            }
            let parsed = &mut dicts.ips[f.index()];
            parsed.load(d.values().as_string::<i32>(), |b| {
                // Dotted quads by the text path's word parser (it reads past the token, so
                // from a padded copy); anything else by the general parser.
                if b.len() <= 15 {
                    let mut pad = [0u8; 32];
                    pad[..b.len()].copy_from_slice(b);
                    if let Some(v4) = super::token::ipv4(&pad, 0, b.len()) {
                        return Ok(Some(ip_cell(crate::net::ip::from_v4(v4))));
                    }
                }
                match values::parse(kind, b, 0) {
                    Ok(Val::Ip(k)) => Ok(Some(ip_cell(k))),
                    Ok(_) => Ok(None),
                    Err(why) => Err(why),
                }
            });
            let (values, nulls) = gather(&d, parsed, bad);
            let buf = Buffer::from_vec(values);
            Some(Arc::new(
                FixedSizeBinaryArray::try_new(16, buf, nulls).ok()?,
            ))
        }
        (Kind::Action | Kind::LogStatus | Kind::Direction, DataType::Dictionary(..)) => {
            let d = utf8_dictionary(a)?;
            if dicts.codes.len() <= f.index() {
                dicts.codes.resize_with(f.index() + 1, Default::default);
            }
            let parsed = &mut dicts.codes[f.index()];
            parsed.load(d.values().as_string::<i32>(), |b| {
                match values::parse(kind, b, 0) {
                    Ok(Val::Int(v)) => Ok(Some(v as u8)),
                    Ok(_) => Ok(None),
                    Err(why) => Err(why),
                }
            });
            let (values, nulls) = gather(&d, parsed, bad);
            Some(Arc::new(PrimitiveArray::<UInt8Type>::new(
                ScalarBuffer::from(values),
                nulls,
            )))
        }
        (Kind::I64, DataType::Int64) | (Kind::I32, DataType::Int32) => Some(a.slice(0, a.len())),
        (Kind::I64 | Kind::I32 | Kind::U16 | Kind::U8, DataType::Int32 | DataType::Int64) => {
            macro_rules! conv {
                ($out:ty, $min:expr, $max:expr) => {{
                    let (v, n): (Vec<<$out as arrow_array::ArrowPrimitiveType>::Native>, _) =
                        match a.data_type() {
                            DataType::Int32 => ints(a.as_primitive::<Int32Type>(), $min, $max, bad),
                            _ => ints(a.as_primitive::<Int64Type>(), $min, $max, bad),
                        };
                    Arc::new(PrimitiveArray::<$out>::new(ScalarBuffer::from(v), n)) as ArrayRef
                }};
            }
            Some(match kind {
                Kind::I64 => conv!(Int64Type, i64::MIN, i64::MAX),
                Kind::I32 => conv!(Int32Type, i32::MIN as i64, i32::MAX as i64),
                Kind::U16 => conv!(UInt16Type, 0, u16::MAX as i64),
                _ => conv!(UInt8Type, 0, u8::MAX as i64),
            })
        }
        _ => None,
    }
}

/// The general conversion of one column, value by value (numbers stored as strings, plain
/// strings, unusual integer widths).
#[allow(clippy::too_many_arguments)]
fn general_column(
    f: F,
    a: &dyn Array,
    file: &str,
    bad: &mut [bool],
    reason: &mut [Option<(F, BadValue)>],
    scratch: &mut String,
) -> Result<ArrayRef, DecodeError> {
    let rows = a.len();
    let decoded;
    let a = match a.data_type() {
        // Dictionaries of other value types: their values, row by row.
        DataType::Dictionary(..) => {
            decoded = arrow_select::take::take(
                a.as_any_dictionary().values().as_ref(),
                a.as_any_dictionary().keys(),
                None,
            )
            .map_err(|source| DecodeError::Arrow {
                file: file.to_string(),
                source,
            })?;
            decoded.as_ref()
        }
        _ => a,
    };
    let Some(acc) = Acc::new(a) else {
        return Err(DecodeError::Parquet {
            file: file.to_string(),
            message: format!(
                "column {} has type {}, expected an integer or string column",
                f.def().column,
                a.data_type()
            ),
        });
    };
    let mut present = [false; NUM_FIELDS];
    present[f.index()] = true;
    let mut cols = Columns::new(&present, false, rows.max(1));
    convert(f, &acc, rows, bad, reason, scratch, &mut cols);
    cols.end_rows(1, rows);
    let batch = cols.finish().map_err(|source| DecodeError::Arrow {
        file: file.to_string(),
        source,
    })?;
    Ok(batch.column(f.index()).clone())
}

/// The schema to read with: string columns of flow-log fields as dictionaries, so Parquet's
/// dictionary encoding survives into Arrow. (Public for the benchmark's Parquet floor, which
/// must read exactly as the decoder does.)
pub fn dictionary_hint(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let flow_field = F::lookup(field.name().as_bytes()).is_some();
            match field.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if flow_field => {
                    Field::new(
                        field.name(),
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                        field.is_nullable(),
                    )
                }
                _ => field.as_ref().clone(),
            }
        })
        .collect();
    Schema::new(fields)
}

/// Refuses a file whose footer declares a row group (or one column chunk) over the limits,
/// before any of it is read: the reader holds a column chunk's pages and a row group's batch
/// state, so their declared sizes are what memory would grow to.
pub(crate) fn check_row_groups(
    meta: &parquet::file::metadata::ParquetMetaData,
    file: &str,
    l: &crate::limits::Limits,
) -> Result<(), DecodeError> {
    use crate::limits::{ROW_GROUP_BYTES, ROW_GROUP_ROWS};
    let over = |message: String| DecodeError::OverLimit {
        file: file.to_string(),
        message,
    };
    for (i, rg) in meta.row_groups().iter().enumerate() {
        let rows = rg.num_rows().max(0) as u64;
        if rows > l.max_row_group_rows {
            return Err(over(format!(
                "row group {i} declares {rows} rows, over the limit of {} ({} / {}); file not read",
                l.max_row_group_rows, ROW_GROUP_ROWS.env, ROW_GROUP_ROWS.flag
            )));
        }
        let widest = rg
            .columns()
            .iter()
            .map(|c| c.uncompressed_size().max(c.compressed_size()).max(0) as u64)
            .max()
            .unwrap_or(0);
        let bytes = (rg.total_byte_size().max(0) as u64).max(widest);
        if bytes > l.max_row_group_bytes {
            return Err(over(format!(
                "row group {i} declares {bytes} bytes uncompressed, over the limit of {} ({} / {}); file not read",
                l.max_row_group_bytes, ROW_GROUP_BYTES.env, ROW_GROUP_BYTES.flag
            )));
        }
    }
    Ok(())
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
    // The parquet crate still panics on some malformed files (a dictionary-encoded page in a
    // chunk without a dictionary page: "Decoder for dict should have been set", found by
    // fuzz/parquet, regressions/parquet/dictionary-page-missing). Such a file is an error for
    // that file, not a panic of the scan worker; batches sent before it stay sent, as after
    // any mid-file error.
    let run = std::panic::AssertUnwindSafe(|| decode_unguarded(input, file, opts, stats, sink));
    std::panic::catch_unwind(run).unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(DecodeError::Parquet {
            file: file.to_string(),
            message: format!("malformed file (the Parquet reader failed: {why})"),
        })
    })
}

fn decode_unguarded<T: ChunkReader + 'static>(
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
    let plain = ArrowReaderMetadata::load(&input, ArrowReaderOptions::new()).map_err(perr)?;
    // The parquet crate asserts (panics) on a column chunk whose offset or size in the footer is
    // negative when it computes the chunk's byte range; a damaged or hostile file must be an
    // error for that file instead (found by fuzz/parquet).
    for rg in plain.metadata().row_groups() {
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            if start < 0 || c.compressed_size() < 0 {
                return Err(DecodeError::Parquet {
                    file: file.to_string(),
                    message: format!(
                        "column chunk {} has a negative offset or size in the footer",
                        c.column_path()
                    ),
                });
            }
        }
    }
    check_row_groups(plain.metadata(), file, crate::limits::get())?;
    // Security Lake writes OCSF Network Activity (nested endpoints), not flow-log columns.
    if super::ocsf::is_ocsf(plain.schema()) {
        return super::ocsf::decode(input, plain, file, opts, stats, sink);
    }
    let hint = Arc::new(dictionary_hint(plain.schema()));
    // A file whose types refuse the hint is read as it is (the general conversion copes).
    let meta = ArrowReaderMetadata::try_new(
        plain.metadata().clone(),
        ArrowReaderOptions::new().with_schema(hint),
    )
    .unwrap_or(plain);
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta);
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

    let mut conv = Converter::default();
    for batch in reader {
        let batch = batch.map_err(|e| DecodeError::Parquet {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        conv.batch(
            &mapping,
            batch.columns(),
            None,
            &[],
            file,
            opts,
            stats,
            sink,
        )?;
    }
    Ok(())
}

/// Turns batches of source columns (each mapped to a flow-log field) into canonical batches,
/// with the skip accounting of a Parquet row: shared by the flat AWS Parquet reader and the
/// OCSF one ([`super::ocsf`]), which maps nested columns onto flow-log fields first.
#[derive(Default)]
pub(crate) struct Converter {
    row_base: u64,
    scratch: String,
    dicts: Dicts,
}

impl Converter {
    /// Converts one batch: `arrays[i]` holds field `mapping[i]`; `extra` is the canonical
    /// `extra` column if the source has one; a row with `refused[r]` set is skipped with that
    /// reason (rows are numbered across batches, 1-based).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn batch(
        &mut self,
        mapping: &[F],
        arrays: &[ArrayRef],
        extra: Option<ArrayRef>,
        refused: &[Option<&'static str>],
        file: &str,
        opts: &DecodeOptions,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        let aerr = |source| DecodeError::Arrow {
            file: file.to_string(),
            source,
        };
        let row_base = self.row_base;
        let Some(rows) = arrays.first().map(|a| a.len()) else {
            return Ok(());
        };
        let mut bad = vec![false; rows];
        let mut reason: Vec<Option<(F, BadValue)>> = vec![None; rows];
        let mut columns: Vec<Option<ArrayRef>> = vec![None; NUM_FIELDS];
        for (f, array) in mapping.iter().zip(arrays) {
            let fast = fast_column(
                *f,
                array.as_ref(),
                &mut Bad {
                    rows: &mut bad,
                    reason: &mut reason,
                    f: *f,
                },
                &mut self.dicts,
            );
            columns[f.index()] = Some(match fast {
                Some(c) => c,
                None => general_column(
                    *f,
                    array.as_ref(),
                    file,
                    &mut bad,
                    &mut reason,
                    &mut self.scratch,
                )?,
            });
        }
        let mut out_arrays: Vec<ArrayRef> = Vec::with_capacity(NUM_FIELDS + 2);
        for (i, c) in columns.into_iter().enumerate() {
            out_arrays
                .push(c.unwrap_or_else(|| super::columns::null_column(i, rows, opts.batch_size)));
        }
        out_arrays.push(
            extra.unwrap_or_else(|| super::columns::null_column(COL_EXTRA, rows, opts.batch_size)),
        );
        out_arrays.push(Arc::new(PrimitiveArray::<UInt64Type>::from_iter_values(
            (1..=rows as u64).map(|r| row_base + r),
        )));
        let mut out = RecordBatch::try_new(schema::canonical(), out_arrays).map_err(aerr)?;
        for (i, why) in reason.iter().enumerate() {
            if let Some(pre) = refused.get(i).copied().flatten() {
                bad[i] = true;
                stats.skip(file, row_base + i as u64 + 1, format_args!("row: {pre}"));
            } else if let Some((f, why)) = why {
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
        self.row_base += rows as u64;
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(keys: &[Option<i32>], values: &[&str]) -> DictionaryArray<Int32Type> {
        let keys: PrimitiveArray<Int32Type> = keys.iter().copied().collect();
        DictionaryArray::try_new(keys, Arc::new(StringArray::from(values.to_vec()))).unwrap()
    }

    fn parsed(values: &[&str]) -> ParsedDict<i128> {
        let mut pd = ParsedDict::default();
        pd.load(
            &StringArray::from(values.to_vec()),
            |b| match values::parse(Kind::Ip, b, 0) {
                Ok(Val::Ip(k)) => Ok(Some(ip_cell(k))),
                Ok(_) => Ok(None),
                Err(why) => Err(why),
            },
        );
        pd
    }

    /// Gathers `d` through `pd`: values, the null bitmap, and the rows marked bad.
    fn gather_rows(
        d: &DictionaryArray<Int32Type>,
        pd: &ParsedDict<i128>,
    ) -> (Vec<i128>, Option<NullBuffer>, Vec<bool>) {
        let mut rows = vec![false; d.len()];
        let mut reason = vec![None; d.len()];
        let mut bad = Bad {
            rows: &mut rows,
            reason: &mut reason,
            f: F::SrcAddr,
        };
        let (vals, nulls) = gather(d, pd, &mut bad);
        (vals, nulls, rows)
    }

    fn run(keys: &[Option<i32>], values: &[&str]) -> (Vec<i128>, Vec<bool>, Vec<bool>) {
        let (vals, nulls, bad) = gather_rows(&dict(keys, values), &parsed(values));
        let valid = (0..keys.len())
            .map(|r| nulls.as_ref().is_none_or(|n| n.is_valid(r)))
            .collect();
        (vals, valid, bad)
    }

    fn ip(s: &str) -> i128 {
        match values::parse(Kind::Ip, s.as_bytes(), 0) {
            Ok(Val::Ip(k)) => ip_cell(k),
            _ => panic!("{s} is not an address"),
        }
    }

    #[test]
    fn gather_without_nulls_has_no_bitmap_and_every_value() {
        let values = ["10.0.0.1", "2001:db8::1"];
        let (vals, nulls, rows) = gather_rows(
            &dict(&[Some(1), Some(0), Some(1)], &values),
            &parsed(&values),
        );
        assert!(nulls.is_none());
        assert_eq!(vals, [ip("2001:db8::1"), ip("10.0.0.1"), ip("2001:db8::1")]);
        assert_eq!(rows, [false; 3]);
    }

    #[test]
    fn gather_keeps_key_nulls_and_dash_entries_as_nulls() {
        let (vals, valid, bad) = run(&[Some(0), None, Some(1), Some(0)], &["10.0.0.1", "-"]);
        assert_eq!(valid, [true, false, false, true]);
        assert_eq!(bad, [false; 4]);
        assert_eq!((vals[0], vals[3]), (ip("10.0.0.1"), ip("10.0.0.1")));
        // Only key nulls, no null entry used: the keys' bitmap is the column's.
        let (_, valid, bad) = run(&[None, Some(0)], &["10.0.0.1", "-"]);
        assert_eq!((valid, bad), (vec![false, true], vec![false, false]));
    }

    #[test]
    fn gather_marks_rows_of_unreadable_entries_and_stray_keys_bad() {
        let (vals, valid, bad) = run(&[Some(0), Some(1), None], &["10.0.0.1", "10.0.0.999"]);
        assert_eq!(bad, [false, true, false]);
        assert_eq!(valid, [true, false, false]);
        assert_eq!(vals[1], 0);
        // Parsed entries that do not cover a key (arrow validates keys, so only a stale
        // cache could do this): the row is refused, not read out of bounds.
        let d = dict(&[Some(0), Some(2)], &["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        let (vals, nulls, rows) = gather_rows(&d, &parsed(&["10.0.0.1"]));
        assert_eq!(rows, [false, true]);
        assert_eq!(vals, [ip("10.0.0.1"), 0]);
        assert!(nulls.is_some_and(|n| n.is_valid(0) && n.is_null(1)));
    }

    #[test]
    fn dictionary_dotted_quads_parse_as_the_general_parser_does() {
        let values = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.256",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "::ffff:1.2.3.4",
        ];
        let pd = parsed(&values);
        let mut dicts = Dicts::default();
        let d = dict(
            &(0..values.len() as i32).map(Some).collect::<Vec<_>>(),
            &values,
        );
        let (mut rows, mut reason) = (vec![false; values.len()], vec![None; values.len()]);
        let got = fast_column(
            F::SrcAddr,
            &d,
            &mut Bad {
                rows: &mut rows,
                reason: &mut reason,
                f: F::SrcAddr,
            },
            &mut dicts,
        )
        .unwrap();
        let got = got.as_fixed_size_binary();
        for (k, v) in values.iter().enumerate() {
            let want_bad = pd.state[k] == ENTRY_BAD;
            assert_eq!(rows[k], want_bad, "{v}");
            if !want_bad {
                assert_eq!(got.value(k), pd.vals[k].to_ne_bytes(), "{v}");
            }
        }
    }
}
