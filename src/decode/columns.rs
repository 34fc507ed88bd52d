//! Column builders for one canonical batch, shared by the text decoder's fast and reference
//! paths.
//!
//! Values are pushed into plain vectors whose capacity is the batch size, so a push is a store
//! and a length bump. Null bitmaps exist only once a column meets its first null (most flow-log
//! batches have none). String fields are dictionary-encoded as they arrive: flow-log strings are
//! identifiers repeated across thousands of records (ENIs, accounts, VPCs, subnets, regions), so
//! a record costs one hash probe instead of a copy, and enrichment resolves each distinct value
//! once per batch. A row that turns out malformed after some of its fields were pushed is rolled
//! back with [`Columns::truncate`].

use std::sync::Arc;

use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{
    new_null_array, ArrayRef, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch,
    StringArray,
};
use arrow_buffer::{
    ArrowNativeType, BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::ArrowError;

use crate::net::IpKey;
use crate::schema::{self, Kind, COL_EXTRA, FIELDS, NUM_FIELDS};

/// Values of one primitive column plus an optional "is null" bitmap (bit set = null).
#[derive(Debug)]
pub struct Prim<T> {
    pub values: Vec<T>,
    nulls: Option<Vec<u64>>,
    cap: usize,
}

impl<T: ArrowNativeType> Prim<T> {
    pub fn new(cap: usize) -> Self {
        Prim {
            values: Vec::with_capacity(cap),
            nulls: None,
            cap,
        }
    }

    #[inline(always)]
    pub fn push(&mut self, v: T) {
        self.values.push(v);
    }

    #[inline]
    pub fn push_null(&mut self) {
        let i = self.values.len();
        self.values.push(T::default());
        let words = self.cap.max(i + 1).div_ceil(64);
        let n = self.nulls.get_or_insert_with(|| vec![0; words]);
        if n.len() <= i / 64 {
            n.resize(i / 64 + 1, 0);
        }
        n[i / 64] |= 1 << (i % 64);
    }

    /// Marks rows (already pushed with a placeholder value) as null.
    pub fn set_nulls(&mut self, rows: &[usize]) {
        if rows.is_empty() {
            return;
        }
        let words = self.cap.max(self.values.len()).div_ceil(64);
        let n = self.nulls.get_or_insert_with(|| vec![0; words]);
        for &i in rows {
            if n.len() <= i / 64 {
                n.resize(i / 64 + 1, 0);
            }
            n[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn truncate(&mut self, rows: usize) {
        let old = self.values.len();
        self.values.truncate(rows);
        if let Some(n) = &mut self.nulls {
            for i in rows..old {
                if let Some(w) = n.get_mut(i / 64) {
                    *w &= !(1 << (i % 64));
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Moves rows `at..` out: their values and null flags.
    pub fn split_off(&mut self, at: usize) -> (Vec<T>, Vec<bool>) {
        let nulls = (at..self.values.len())
            .map(|i| {
                self.nulls
                    .as_ref()
                    .and_then(|n| n.get(i / 64))
                    .is_some_and(|w| w & (1 << (i % 64)) != 0)
            })
            .collect();
        let values = self.values.split_off(at);
        if let Some(n) = &mut self.nulls {
            for i in at..at + values.len() {
                if let Some(w) = n.get_mut(i / 64) {
                    *w &= !(1 << (i % 64));
                }
            }
        }
        (values, nulls)
    }

    /// Pushes one row taken with [`Prim::split_off`].
    pub fn push_from(&mut self, tail: &(Vec<T>, Vec<bool>), m: usize) {
        if tail.1[m] {
            self.push_null();
        } else {
            self.push(tail.0[m]);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Hands the values and validity over, leaving the column empty for the next batch.
    pub fn take(&mut self) -> (ScalarBuffer<T>, Option<NullBuffer>) {
        let rows = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(self.cap));
        let nulls = self.nulls.take().map(|words| {
            let valid: Vec<u64> = words.iter().map(|w| !w).collect();
            NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(valid), 0, rows))
        });
        (ScalarBuffer::from(values), nulls)
    }
}

/// FNV-style multiply-xor over 8-byte words; tokens are short identifiers.
#[inline(always)]
pub fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = b.len();
    let mut h = (n as u64).wrapping_mul(K);
    let mut mix = |w: u64| h = (h.rotate_left(26) ^ w).wrapping_mul(K);
    if n < 8 {
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(b);
        mix(u64::from_le_bytes(w));
    } else {
        let mut i = 0;
        while i + 8 <= n {
            mix(word(b, i));
            i += 8;
        }
        if i < n {
            mix(word(b, n - 8));
        }
    }
    h ^ (h >> 29)
}

#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Equality for short byte strings without a call to `memcmp`.
#[inline(always)]
pub fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    i == n || word(a, n - 8) == word(b, n - 8)
}

/// A dictionary-encoded UTF-8 column: keys per row, distinct values once.
#[derive(Debug)]
pub struct DictCol {
    pub keys: Prim<i32>,
    values: Vec<u8>,
    offsets: Vec<i32>,
    /// Open addressing: dictionary index + 1, 0 = empty. Length is a power of two.
    table: Vec<u32>,
    last: Option<i32>,
}

impl DictCol {
    pub fn new(cap: usize) -> Self {
        DictCol {
            keys: Prim::new(cap),
            values: Vec::with_capacity(1024),
            offsets: vec![0],
            table: vec![0; 256],
            last: None,
        }
    }

    fn value(&self, k: usize) -> &[u8] {
        &self.values[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    /// Index of `tok` in this batch's dictionary, added when new. The caller guarantees UTF-8.
    #[inline(always)]
    pub fn intern(&mut self, tok: &[u8]) -> i32 {
        if let Some(k) = self.last {
            if eq_bytes(self.value(k as usize), tok) {
                return k;
            }
        }
        let k = self.lookup(tok);
        self.last = Some(k);
        k
    }

    #[inline]
    fn lookup(&mut self, tok: &[u8]) -> i32 {
        let mask = self.table.len() - 1;
        let mut slot = hash_bytes(tok) as usize & mask;
        loop {
            let e = self.table[slot];
            if e == 0 {
                break;
            }
            if eq_bytes(self.value(e as usize - 1), tok) {
                return e as i32 - 1;
            }
            slot = (slot + 1) & mask;
        }
        let k = self.offsets.len() - 1;
        self.values.extend_from_slice(tok);
        self.offsets.push(self.values.len() as i32);
        self.table[slot] = k as u32 + 1;
        if (k + 1) * 2 > self.table.len() {
            self.grow();
        }
        k as i32
    }

    fn grow(&mut self) {
        let size = self.table.len() * 2;
        self.table.clear();
        self.table.resize(size, 0);
        let mask = size - 1;
        for k in 0..self.offsets.len() - 1 {
            let mut slot = hash_bytes(self.value(k)) as usize & mask;
            while self.table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.table[slot] = k as u32 + 1;
        }
    }

    #[inline(always)]
    pub fn push(&mut self, tok: &[u8]) {
        let k = self.intern(tok);
        self.keys.push(k);
    }

    pub fn push_null(&mut self) {
        self.keys.push_null();
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let (keys, nulls) = self.keys.take();
        let values = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(
                &mut self.offsets,
                vec![0],
            ))),
            Buffer::from_vec(std::mem::take(&mut self.values)),
            None,
        )?;
        self.table.iter_mut().for_each(|e| *e = 0);
        self.last = None;
        let keys = PrimitiveArray::<Int32Type>::new(keys, nulls);
        Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
            keys,
            Arc::new(values),
        )?))
    }
}

/// Plain UTF-8 column (the `extra` column of unknown fields), built piece by piece.
#[derive(Debug)]
pub struct StrCol {
    values: Vec<u8>,
    offsets: Vec<i32>,
    nulls: Prim<u8>,
}

impl StrCol {
    pub fn new(cap: usize) -> Self {
        StrCol {
            values: Vec::new(),
            offsets: vec![0],
            nulls: Prim::new(cap),
        }
    }

    pub fn push_partial(&mut self, b: &[u8]) {
        self.values.extend_from_slice(b);
    }

    pub fn end_value(&mut self, null: bool) {
        if null {
            self.nulls.push_null();
        } else {
            self.nulls.push(0);
        }
        self.offsets.push(self.values.len() as i32);
    }

    fn truncate(&mut self, rows: usize) {
        if self.offsets.len() > rows + 1 {
            self.offsets.truncate(rows + 1);
            self.values.truncate(self.offsets[rows] as usize);
            self.nulls.truncate(rows);
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let (_, nulls) = self.nulls.take();
        Ok(Arc::new(StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(
                &mut self.offsets,
                vec![0],
            ))),
            Buffer::from_vec(std::mem::take(&mut self.values)),
            nulls,
        )?))
    }
}

/// Rows moved out of a [`Columns`], per typed column.
#[derive(Debug, Default)]
pub struct Tail {
    i32s: Vec<(Vec<i32>, Vec<bool>)>,
    i64s: Vec<(Vec<i64>, Vec<bool>)>,
    u8s: Vec<(Vec<u8>, Vec<bool>)>,
    u16s: Vec<(Vec<u16>, Vec<bool>)>,
    ips: Vec<(Vec<i128>, Vec<bool>)>,
    dicts: Vec<(Vec<i32>, Vec<bool>)>,
}

/// Where a field's values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    I32(u8),
    I64(u8),
    U8(u8),
    U16(u8),
    Ip(u8),
    Dict(u8),
}

/// IPv4-mapped or IPv6 key as the 16 big-endian bytes of a `FixedSizeBinary(16)` value.
#[inline(always)]
pub fn ip_cell(k: IpKey) -> i128 {
    i128::from_ne_bytes(k.to_be_bytes())
}

/// The columns of one batch: typed vectors per present field, all-null arrays for the others.
#[derive(Debug)]
pub struct Columns {
    pub slots: [Option<Slot>; NUM_FIELDS],
    pub i32s: Vec<Prim<i32>>,
    pub i64s: Vec<Prim<i64>>,
    pub u8s: Vec<Prim<u8>>,
    pub u16s: Vec<Prim<u16>>,
    pub ips: Vec<Prim<i128>>,
    pub dicts: Vec<DictCol>,
    pub extra: Option<StrCol>,
    pub line: Vec<u64>,
    cap: usize,
    /// All-null arrays of full batches per absent column, built once and shared by every batch.
    null_cache: Vec<Option<ArrayRef>>,
}

impl Columns {
    /// `present[i]`: whether field `i` gets a real column; `extra`: whether unknown fields do.
    pub fn new(present: &[bool; NUM_FIELDS], extra: bool, cap: usize) -> Self {
        let mut c = Columns {
            slots: [None; NUM_FIELDS],
            i32s: Vec::new(),
            i64s: Vec::new(),
            u8s: Vec::new(),
            u16s: Vec::new(),
            ips: Vec::new(),
            dicts: Vec::new(),
            extra: extra.then(|| StrCol::new(cap)),
            line: Vec::with_capacity(cap),
            cap,
            null_cache: vec![None; NUM_FIELDS + 1],
        };
        for (i, f) in FIELDS.iter().enumerate() {
            if !present[i] {
                continue;
            }
            macro_rules! add {
                ($v:ident, $s:ident, $e:expr) => {{
                    c.$v.push($e);
                    Slot::$s((c.$v.len() - 1) as u8)
                }};
            }
            c.slots[i] = Some(match f.kind {
                Kind::Str => add!(dicts, Dict, DictCol::new(cap)),
                Kind::Ip => add!(ips, Ip, Prim::new(cap)),
                Kind::U8 | Kind::Action | Kind::LogStatus | Kind::Direction => {
                    add!(u8s, U8, Prim::new(cap))
                }
                Kind::U16 => add!(u16s, U16, Prim::new(cap)),
                Kind::I32 => add!(i32s, I32, Prim::new(cap)),
                Kind::I64 => add!(i64s, I64, Prim::new(cap)),
            });
        }
        c
    }

    pub fn rows(&self) -> usize {
        self.line.len()
    }

    pub fn is_full(&self) -> bool {
        self.line.len() >= self.cap
    }

    /// Rows that still fit in this batch.
    pub fn room(&self) -> usize {
        self.cap.saturating_sub(self.line.len())
    }

    /// Drops everything pushed after the first `rows` rows (a line that failed half-way).
    pub fn truncate(&mut self, rows: usize) {
        self.line.truncate(rows);
        self.i32s.iter_mut().for_each(|c| c.truncate(rows));
        self.i64s.iter_mut().for_each(|c| c.truncate(rows));
        self.u8s.iter_mut().for_each(|c| c.truncate(rows));
        self.u16s.iter_mut().for_each(|c| c.truncate(rows));
        self.ips.iter_mut().for_each(|c| c.truncate(rows));
        self.dicts.iter_mut().for_each(|c| c.keys.truncate(rows));
        if let Some(e) = &mut self.extra {
            e.truncate(rows);
        }
    }

    /// Moves rows `at..` of every column out (see [`Columns::push_tail_row`]).
    pub fn split_tail(&mut self, at: usize) -> Tail {
        Tail {
            i32s: self.i32s.iter_mut().map(|c| c.split_off(at)).collect(),
            i64s: self.i64s.iter_mut().map(|c| c.split_off(at)).collect(),
            u8s: self.u8s.iter_mut().map(|c| c.split_off(at)).collect(),
            u16s: self.u16s.iter_mut().map(|c| c.split_off(at)).collect(),
            ips: self.ips.iter_mut().map(|c| c.split_off(at)).collect(),
            dicts: self
                .dicts
                .iter_mut()
                .map(|c| c.keys.split_off(at))
                .collect(),
        }
    }

    /// Re-appends row `m` of a tail (without its line number).
    pub fn push_tail_row(&mut self, t: &Tail, m: usize) {
        self.i32s
            .iter_mut()
            .zip(&t.i32s)
            .for_each(|(c, v)| c.push_from(v, m));
        self.i64s
            .iter_mut()
            .zip(&t.i64s)
            .for_each(|(c, v)| c.push_from(v, m));
        self.u8s
            .iter_mut()
            .zip(&t.u8s)
            .for_each(|(c, v)| c.push_from(v, m));
        self.u16s
            .iter_mut()
            .zip(&t.u16s)
            .for_each(|(c, v)| c.push_from(v, m));
        self.ips
            .iter_mut()
            .zip(&t.ips)
            .for_each(|(c, v)| c.push_from(v, m));
        self.dicts
            .iter_mut()
            .zip(&t.dicts)
            .for_each(|(c, v)| c.keys.push_from(v, m));
    }

    /// Appends a null to field `i`'s column, if it has one.
    pub fn push_null(&mut self, i: usize) {
        match self.slots[i] {
            None => {}
            Some(Slot::I32(k)) => self.i32s[k as usize].push_null(),
            Some(Slot::I64(k)) => self.i64s[k as usize].push_null(),
            Some(Slot::U8(k)) => self.u8s[k as usize].push_null(),
            Some(Slot::U16(k)) => self.u16s[k as usize].push_null(),
            Some(Slot::Ip(k)) => self.ips[k as usize].push_null(),
            Some(Slot::Dict(k)) => self.dicts[k as usize].push_null(),
        }
    }

    /// Appends an integer already range-checked for field `i`'s kind.
    pub fn push_int(&mut self, i: usize, v: i64) {
        match self.slots[i] {
            Some(Slot::I32(k)) => self.i32s[k as usize].push(v as i32),
            Some(Slot::I64(k)) => self.i64s[k as usize].push(v),
            Some(Slot::U8(k)) => self.u8s[k as usize].push(v as u8),
            Some(Slot::U16(k)) => self.u16s[k as usize].push(v as u16),
            _ => self.push_null(i),
        }
    }

    pub fn push_ip(&mut self, i: usize, v: IpKey) {
        match self.slots[i] {
            Some(Slot::Ip(k)) => self.ips[k as usize].push(ip_cell(v)),
            _ => self.push_null(i),
        }
    }

    pub fn push_str(&mut self, i: usize, v: &[u8]) {
        match self.slots[i] {
            Some(Slot::Dict(k)) => self.dicts[k as usize].push(v),
            _ => self.push_null(i),
        }
    }

    /// Closes `n` rows whose fields were pushed column by column, numbered from `first`.
    pub fn end_rows(&mut self, first: u64, n: usize) {
        self.line.extend(first..first + n as u64);
    }

    /// Closes a row whose fields were all pushed.
    #[inline(always)]
    pub fn end_row(&mut self, line: u64) {
        self.line.push(line);
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = self.rows();
        let schema = schema::canonical();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(NUM_FIELDS + 2);
        for i in 0..NUM_FIELDS {
            let a: ArrayRef = match self.slots[i] {
                Some(Slot::I32(k)) => prim::<Int32Type>(&mut self.i32s[k as usize]),
                Some(Slot::I64(k)) => prim::<Int64Type>(&mut self.i64s[k as usize]),
                Some(Slot::U8(k)) => prim::<UInt8Type>(&mut self.u8s[k as usize]),
                Some(Slot::U16(k)) => prim::<UInt16Type>(&mut self.u16s[k as usize]),
                Some(Slot::Ip(k)) => {
                    let (values, nulls) = self.ips[k as usize].take();
                    Arc::new(FixedSizeBinaryArray::try_new(
                        16,
                        values.into_inner(),
                        nulls,
                    )?)
                }
                Some(Slot::Dict(k)) => self.dicts[k as usize].finish()?,
                None => self.nulls(i, rows),
            };
            arrays.push(a);
        }
        arrays.push(match &mut self.extra {
            Some(e) => e.finish()?,
            None => self.nulls(COL_EXTRA, rows),
        });
        let line = std::mem::replace(&mut self.line, Vec::with_capacity(self.cap));
        arrays.push(Arc::new(PrimitiveArray::<UInt64Type>::new(
            ScalarBuffer::from(line),
            None,
        )));
        RecordBatch::try_new(schema, arrays)
    }

    fn nulls(&mut self, i: usize, rows: usize) -> ArrayRef {
        let cap = self.cap;
        let full = self.null_cache[i]
            .get_or_insert_with(|| shared_nulls(i, cap))
            .clone();
        if rows == cap {
            full
        } else {
            full.slice(0, rows)
        }
    }
}

/// An all-null column `i` of `rows` rows: a slice of the shared one of `cap` rows when it
/// fits (batches up to the batch size), so no batch allocates and zeroes its own.
pub fn null_column(i: usize, rows: usize, cap: usize) -> ArrayRef {
    if rows <= cap {
        shared_nulls(i, cap).slice(0, rows)
    } else {
        new_null_array(schema::canonical().field(i).data_type(), rows)
    }
}

/// All-null arrays of column `i` for full batches of `rows`, shared process-wide: most of the
/// schema's columns are absent from any given layout, and building (and zeroing) them for every
/// batch of every object would cost more than decoding the present ones. Only full batches are
/// cached, so the cache holds one entry per column per batch size in use.
fn shared_nulls(i: usize, rows: usize) -> ArrayRef {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cache = Mutex<HashMap<(usize, usize), ArrayRef>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let make = || new_null_array(schema::canonical().field(i).data_type(), rows);
    match CACHE.get_or_init(Default::default).lock() {
        Ok(mut map) => map.entry((i, rows)).or_insert_with(make).clone(),
        Err(_) => make(),
    }
}

fn prim<T>(c: &mut Prim<T::Native>) -> ArrayRef
where
    T: arrow_array::ArrowPrimitiveType,
{
    let (values, nulls) = c.take();
    Arc::new(PrimitiveArray::<T>::new(values, nulls))
}
