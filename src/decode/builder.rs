//! Column builders for one canonical batch. Only the columns a layout carries are materialised;
//! the rest become all-null arrays when the batch is finished.

use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, Int64Builder, UInt16Builder, UInt64Builder, UInt8Builder,
};
use arrow_array::{new_null_array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow_buffer::{Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::ArrowError;

use crate::net::IpKey;
use crate::schema::{self, Kind, COL_EXTRA, FIELDS, NUM_FIELDS};

/// UTF-8 column built from byte slices; the caller guarantees the bytes are UTF-8 and
/// `StringArray::try_new` re-checks it once per batch.
#[derive(Debug)]
pub struct StrCol {
    values: Vec<u8>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl StrCol {
    pub fn with_capacity(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        StrCol {
            values: Vec::with_capacity(rows * 16),
            offsets,
            nulls: NullBufferBuilder::new(rows),
        }
    }

    #[inline]
    pub fn append(&mut self, v: Option<&[u8]>) {
        match v {
            Some(b) => {
                self.values.extend_from_slice(b);
                self.nulls.append_non_null();
            }
            None => self.nulls.append_null(),
        }
        self.offsets.push(self.values.len() as i32);
    }

    /// Appends bytes to the value being built; `end_value` closes it.
    pub fn push_partial(&mut self, b: &[u8]) {
        self.values.extend_from_slice(b);
    }

    pub fn end_value(&mut self, null: bool) {
        if null {
            self.nulls.append_null();
        } else {
            self.nulls.append_non_null();
        }
        self.offsets.push(self.values.len() as i32);
    }

    pub fn finish(&mut self) -> Result<StringArray, ArrowError> {
        let rows = self.offsets.len() - 1;
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let values = std::mem::take(&mut self.values);
        let nulls = self.nulls.finish();
        self.nulls = NullBufferBuilder::new(rows);
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            nulls,
        )
    }
}

#[derive(Debug)]
pub struct IpCol {
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl IpCol {
    fn with_capacity(rows: usize) -> Self {
        IpCol {
            values: Vec::with_capacity(rows * 16),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    #[inline]
    pub fn append(&mut self, v: Option<IpKey>) {
        match v {
            Some(k) => {
                self.values.extend_from_slice(&k.to_be_bytes());
                self.nulls.append_non_null();
            }
            None => {
                self.values.extend_from_slice(&[0; 16]);
                self.nulls.append_null();
            }
        }
    }

    fn finish(&mut self) -> Result<FixedSizeBinaryArray, ArrowError> {
        let rows = self.values.len() / 16;
        let values = std::mem::take(&mut self.values);
        let nulls = self.nulls.finish();
        self.nulls = NullBufferBuilder::new(rows);
        FixedSizeBinaryArray::try_new(16, Buffer::from_vec(values), nulls)
    }
}

#[derive(Debug)]
pub enum Col {
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    Ip(IpCol),
    Str(StrCol),
}

impl Col {
    pub(super) fn new(kind: Kind, rows: usize) -> Col {
        match kind {
            Kind::Str => Col::Str(StrCol::with_capacity(rows)),
            Kind::Ip => Col::Ip(IpCol::with_capacity(rows)),
            Kind::U8 | Kind::Action | Kind::LogStatus | Kind::Direction => {
                Col::U8(UInt8Builder::with_capacity(rows))
            }
            Kind::U16 => Col::U16(UInt16Builder::with_capacity(rows)),
            Kind::I32 => Col::I32(Int32Builder::with_capacity(rows)),
            Kind::I64 => Col::I64(Int64Builder::with_capacity(rows)),
        }
    }

    /// Appends an integer already range-checked by the parser for this column's kind.
    #[inline]
    pub fn append_int(&mut self, v: Option<i64>) {
        match self {
            Col::I32(b) => b.append_option(v.map(|v| v as i32)),
            Col::I64(b) => b.append_option(v),
            Col::U8(b) => b.append_option(v.map(|v| v as u8)),
            Col::U16(b) => b.append_option(v.map(|v| v as u16)),
            Col::Ip(b) => b.append(None),
            Col::Str(b) => b.append(None),
        }
    }

    pub fn append_null(&mut self) {
        match self {
            Col::Ip(b) => b.append(None),
            Col::Str(b) => b.append(None),
            other => other.append_int(None),
        }
    }

    pub(super) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::U8(b) => Arc::new(b.finish()),
            Col::U16(b) => Arc::new(b.finish()),
            Col::Ip(b) => Arc::new(b.finish()?),
            Col::Str(b) => Arc::new(b.finish()?),
        })
    }
}

/// Builds canonical batches of at most `capacity` rows.
#[derive(Debug)]
pub struct BatchBuilder {
    pub cols: Vec<Option<Col>>,
    pub extra: Option<StrCol>,
    pub line: UInt64Builder,
    rows: usize,
    capacity: usize,
    /// All-null arrays of full batches, per absent column: built once, shared by every batch
    /// (an Arc clone instead of a fresh zeroed allocation per column per batch).
    null_cache: Vec<Option<ArrayRef>>,
}

impl BatchBuilder {
    /// `present[i]` says whether field `i` gets a real column; `extra` whether unknown fields do.
    pub fn new(present: &[bool; NUM_FIELDS], extra: bool, capacity: usize) -> Self {
        let cols = FIELDS
            .iter()
            .zip(present)
            .map(|(f, &p)| p.then(|| Col::new(f.kind, capacity)))
            .collect();
        BatchBuilder {
            cols,
            extra: extra.then(|| StrCol::with_capacity(capacity)),
            line: UInt64Builder::with_capacity(capacity),
            rows: 0,
            capacity,
            null_cache: vec![None; NUM_FIELDS + 1],
        }
    }

    pub fn col(&mut self, i: usize) -> Option<&mut Col> {
        self.cols[i].as_mut()
    }

    /// Closes a row appended column by column; returns true when the batch is full.
    pub fn end_row(&mut self, line: u64) -> bool {
        self.line.append_value(line);
        self.rows += 1;
        self.rows >= self.capacity
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = self.rows;
        let schema = schema::canonical();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(NUM_FIELDS + 2);
        let full = rows == self.capacity;
        let nulls = |i: usize, cache: &mut Vec<Option<ArrayRef>>| -> ArrayRef {
            let make = || new_null_array(schema.field(i).data_type(), rows);
            if !full {
                return make();
            }
            cache[i].get_or_insert_with(make).clone()
        };
        for (i, col) in self.cols.iter_mut().enumerate() {
            arrays.push(match col {
                Some(c) => c.finish()?,
                None => nulls(i, &mut self.null_cache),
            });
        }
        arrays.push(match &mut self.extra {
            Some(e) => Arc::new(e.finish()?),
            None => nulls(COL_EXTRA, &mut self.null_cache),
        });
        arrays.push(Arc::new(self.line.finish()));
        self.rows = 0;
        RecordBatch::try_new(schema, arrays)
    }
}
