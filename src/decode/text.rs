//! Text flow logs: header-driven, any field order, any subset, unknown fields kept.
//!
//! The object is inflated into one reused block buffer, and its complete lines are decoded in
//! place. Two paths share the same column builders:
//!
//! - the **fast path** runs a plan compiled from the layout (one action per field) over the
//!   block, finding separators with [`super::split::Specials`] and parsing numbers and IPv4
//!   addresses a word at a time; it accepts only the canonical shape of a line (single spaces,
//!   `\n` or `\r\n`, ASCII, the layout's field count, values its parsers know);
//! - the **reference path** takes any line the fast path declines (headers, blank lines, runs of
//!   blanks, tabs, IPv6, UTF-8, negative numbers, malformed values, unknown fields) and decides
//!   what it is, producing the counted skip with its exact reason when it is malformed.
//!
//! A line the fast path starts but declines is rolled back and handed over whole, so both paths
//! give the same batches for any input (tested by `tests/decode_props.rs`).

use std::io::{self, Read};

use arrow_array::RecordBatch;

use super::columns::{Columns, Slot as Col};
use super::fast::{self, Act, HeaderRule};
use super::layout::{is_header, Layout, Slot};
use super::split;
use super::token;
use super::values::{self, Val};
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{Kind, F, NUM_FIELDS, STATUS_NODATA, STATUS_SKIPDATA};

/// Bytes inflated per block: small enough to stay in the core's L2 cache between the inflater
/// writing it and the parser reading it.
const BLOCK: usize = 256 * 1024;

/// Splits on runs of spaces or tabs, recording token spans in `spans`.
fn tokenize(line: &[u8], spans: &mut Vec<(u32, u32)>) {
    spans.clear();
    let mut start: Option<usize> = None;
    for (i, &c) in line.iter().enumerate() {
        if c == b' ' || c == b'\t' {
            if let Some(s) = start.take() {
                spans.push((s as u32, i as u32));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        spans.push((s as u32, line.len() as u32));
    }
}

/// Which fields of `layout` get a column: those in the projection (all without one).
fn columns_for(layout: &Layout, opts: &DecodeOptions) -> Columns {
    let mut present = [false; NUM_FIELDS];
    for s in &layout.slots {
        if let Slot::Known(f) = s {
            present[f.index()] = opts.projection.as_ref().is_none_or(|p| p.contains(f));
        }
    }
    Columns::new(&present, layout.has_unknown(), opts.batch_size)
}

/// Position of the first space or tab in `s`, eight bytes at a time.
#[inline]
fn find_sep(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let m = token::bytes_eq(x, b' ') | token::bytes_eq(x, b'\t');
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .map(|p| i + p)
}

/// Why a data line was refused.
enum Refusal {
    Count,
    Value(&'static str, values::BadValue),
}

/// Reference path: tokenizes and parses a data line in one pass, straight from the layout.
fn parse_line(text: &[u8], layout: &Layout, vals: &mut Vec<Val>) -> Result<(), Refusal> {
    vals.clear();
    let n = text.len();
    let mut pos = 0;
    for slot in &layout.slots {
        while pos < n && (text[pos] == b' ' || text[pos] == b'\t') {
            pos += 1;
        }
        if pos == n {
            return Err(Refusal::Count);
        }
        let end = find_sep(&text[pos..]).map_or(n, |i| pos + i);
        let tok = &text[pos..end];
        let v = match slot {
            Slot::Known(f) => {
                let def = f.def();
                values::parse(def.kind, tok, pos as u32)
                    .map_err(|why| Refusal::Value(def.name, why))?
            }
            Slot::Unknown(_) if tok == b"-" => Val::Null,
            Slot::Unknown(_) => Val::Str(pos as u32, end as u32),
        };
        vals.push(v);
        pos = end;
    }
    while pos < n && (text[pos] == b' ' || text[pos] == b'\t') {
        pos += 1;
    }
    if pos < n {
        return Err(Refusal::Count);
    }
    Ok(())
}

/// The fast path's program for one layout.
#[derive(Debug)]
struct Plan {
    acts: Vec<Act>,
    /// What a line that begins like a field name does to a chunk.
    header_rule: HeaderRule,
    status: Option<usize>,
}

impl Plan {
    /// `None` for layouts with unknown fields: those always take the reference path.
    fn compile(layout: &Layout, cols: &Columns) -> Option<Plan> {
        let mut acts = Vec::with_capacity(layout.len());
        let mut status = None;
        for (i, s) in layout.slots.iter().enumerate() {
            let Slot::Known(f) = s else { return None };
            let kind = f.def().kind;
            if *f == F::LogStatus {
                status = Some(i);
            }
            let slot = cols.slots[f.index()];
            acts.push(match (kind, slot) {
                (Kind::Action | Kind::LogStatus | Kind::Direction, Some(Col::U8(k))) => {
                    Act::Enum(kind, Some(k))
                }
                (Kind::LogStatus, _) => Act::Enum(kind, None),
                (Kind::Str, None) => Act::Skip,
                (_, None) => Act::Check(kind),
                (Kind::I32, Some(Col::I32(k))) => Act::I32(k),
                (Kind::I64, Some(Col::I64(k))) => Act::I64(k),
                (Kind::U8, Some(Col::U8(k))) => Act::U8(k),
                (Kind::U16, Some(Col::U16(k))) => Act::U16(k),
                (Kind::Ip, Some(Col::Ip(k))) => Act::Ip(k),
                (Kind::Str, Some(Col::Dict(k))) => Act::Dict(k),
                _ => return None,
            });
        }
        if acts.is_empty() {
            return None;
        }
        let all_str = layout
            .slots
            .iter()
            .all(|s| matches!(s, Slot::Known(f) if f.def().kind == Kind::Str));
        let lower_first = matches!(
            layout.slots.first(),
            Some(Slot::Known(f)) if matches!(f.def().kind, Kind::Str | Kind::Direction)
        );
        Some(Plan {
            acts,
            // With only strings, a header parses as data: every such line is a candidate.
            header_rule: if lower_first && !all_str {
                HeaderRule::NameShaped
            } else {
                HeaderRule::Stop
            },
            status,
        })
    }
}

/// Bytes of text one fast-path chunk covers: a few hundred lines, so the separator index stays
/// in the L1/L2 cache between the stages.
const CHUNK_BYTES: usize = 48 * 1024;

fn count_status(stats: &mut FileStats, status: &[u8]) {
    for &st in status {
        stats.nodata += (st == STATUS_NODATA) as u64;
        stats.skipdata += (st == STATUS_SKIPDATA) as u64;
    }
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// Decoder state carried from block to block of one object.
struct TextState<'a> {
    file: &'a str,
    opts: &'a DecodeOptions,
    layout: Option<Layout>,
    cols: Option<Columns>,
    plan: Option<Plan>,
    spans: Vec<(u32, u32)>,
    vals: Vec<Val>,
    line_no: u64,
    // Fast-path chunk state, reused from chunk to chunk.
    ix: fast::Index,
    bad: Vec<bool>,
    status: Vec<u8>,
}

impl TextState<'_> {
    fn flush(&mut self, sink: &mut dyn FnMut(RecordBatch)) -> Result<(), DecodeError> {
        if let Some(c) = self.cols.as_mut().filter(|c| c.rows() > 0) {
            let batch = c.finish().map_err(|source| DecodeError::Arrow {
                file: self.file.to_string(),
                source,
            })?;
            sink(batch);
        }
        Ok(())
    }

    fn too_long(&mut self, stats: &mut FileStats, n: usize) {
        stats.skip(
            self.file,
            self.line_no,
            format_args!(
                "line is {n} bytes, over the {} byte limit",
                self.opts.max_line_len
            ),
        );
    }

    /// Decodes the complete lines of `buf[pos..limit]` (`buf[limit - 1]` is a newline).
    fn lines(
        &mut self,
        buf: &[u8],
        mut pos: usize,
        limit: usize,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        while pos < limit {
            if self.plan.is_some() && self.cols.is_some() && !self.opts.reference_only {
                pos = self.chunk(buf, pos, limit, stats, sink)?;
                continue;
            }
            let end = memchr::memchr(b'\n', &buf[pos..limit]).map_or(limit - 1, |i| pos + i);
            self.line_no += 1;
            self.reference(&buf[pos..end], stats, sink)?;
            pos = end + 1;
        }
        Ok(())
    }

    /// A line for the reference path: over-long lines are counted, the rest decoded.
    fn reference(
        &mut self,
        line: &[u8],
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        if line.len() > self.opts.max_line_len {
            self.too_long(stats, line.len());
            Ok(())
        } else {
            self.line(trim_cr(line), stats, sink)
        }
    }

    /// The fast path over one chunk of lines from `pos`; lines it declines go to the reference
    /// path in their place. Returns the position after the chunk.
    fn chunk(
        &mut self,
        buf: &[u8],
        pos: usize,
        limit: usize,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<usize, DecodeError> {
        if self.cols.as_ref().is_some_and(|c| c.is_full()) {
            self.flush(sink)?;
        }
        let (Some(plan), Some(cols)) = (self.plan.as_ref(), self.cols.as_mut()) else {
            return Ok(pos);
        };
        let window = &buf[pos..limit.min(pos + CHUNK_BYTES)];
        let end = match memchr::memrchr(b'\n', window) {
            Some(i) => pos + i,
            // One line longer than a chunk: it is the chunk.
            None => memchr::memchr(b'\n', &buf[pos..limit]).map_or(limit - 1, |i| pos + i),
        };
        let ix = &mut self.ix;
        let next = ix.build(
            buf,
            pos,
            end,
            plan.acts.len(),
            self.opts.max_line_len,
            cols.room().max(1),
            plan.header_rule,
        );
        let n_fast = ix.rows();
        let row0 = cols.rows();
        self.bad.clear();
        self.bad.resize(n_fast, false);
        self.status.clear();
        self.status.resize(n_fast, u8::MAX);
        for (k, &act) in plan.acts.iter().enumerate() {
            fast::column_pass(act, k, buf, ix, cols, &mut self.bad, &mut self.status);
        }
        let line0 = self.line_no;
        let lines = ix.nl.len();
        let counts_status = plan.status.is_some();
        if n_fast == lines && !self.bad.contains(&true) {
            cols.end_rows(line0 + 1, n_fast);
            self.line_no = line0 + n_fast as u64;
            stats.records += n_fast as u64;
            if counts_status {
                count_status(stats, &self.status);
            }
            return Ok(next);
        }
        // Some line was declined: rebuild the chunk's rows in line order, the reference path
        // taking the declined lines in their place.
        let tail = cols.split_tail(row0);
        let fast_flags = std::mem::take(&mut ix.fast);
        let bounds: Vec<(usize, usize)> = (0..lines).map(|j| ix.line(j)).collect();
        let mut m = 0;
        for (j, &is_fast) in fast_flags.iter().enumerate() {
            self.line_no = line0 + 1 + j as u64;
            if is_fast && !self.bad[m] {
                if let Some(c) = self.cols.as_mut() {
                    c.push_tail_row(&tail, m);
                    c.end_row(self.line_no);
                }
                stats.records += 1;
                if counts_status {
                    count_status(stats, &self.status[m..m + 1]);
                }
            } else {
                let (s, e) = bounds[j];
                self.reference(&buf[s..e], stats, sink)?;
            }
            m += is_fast as usize;
        }
        self.ix.fast = fast_flags;
        Ok(next)
    }

    /// Reference path for one line (without its line ending).
    fn line(
        &mut self,
        text: &[u8],
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        let (file, opts, line_no) = (self.file, self.opts, self.line_no);
        let Some(&first) = text.iter().find(|&&c| c != b' ' && c != b'\t') else {
            return Ok(()); // blank: no data
        };
        // Data lines of every layout that starts with a number or an address begin with a digit;
        // only lines that begin like a field name need the full header check.
        if first.is_ascii_lowercase() || first == b'$' {
            tokenize(text, &mut self.spans);
            let tokens = self
                .spans
                .iter()
                .map(|&(s, e)| &text[s as usize..e as usize]);
            if is_header(tokens.clone()) {
                stats.headers += 1;
                let new = Layout::from_names(tokens);
                if self.layout.as_ref() != Some(&new) {
                    self.flush(sink)?;
                    self.cols = None;
                    self.plan = None;
                    self.layout = Some(new);
                }
                return Ok(());
            }
        }
        let layout = self
            .layout
            .get_or_insert_with(|| opts.fields.clone().unwrap_or_else(Layout::default_v2));
        if !text.is_ascii() && std::str::from_utf8(text).is_err() {
            stats.skip(file, line_no, format_args!("line is not valid UTF-8"));
            return Ok(());
        }
        let refusal = match parse_line(text, layout, &mut self.vals) {
            Ok(()) => None,
            // A value error on a line with the wrong number of fields is reported as the count
            // mismatch: that is the real problem (usually a missing header or --fields).
            Err(Refusal::Value(name, why)) => {
                tokenize(text, &mut self.spans);
                Some(if self.spans.len() == layout.len() {
                    Refusal::Value(name, why)
                } else {
                    Refusal::Count
                })
            }
            Err(Refusal::Count) => {
                tokenize(text, &mut self.spans);
                Some(Refusal::Count)
            }
        };
        match refusal {
            None => {}
            Some(Refusal::Count) => {
                let hint = if stats.headers == 0 && opts.fields.is_none() {
                    " (no header line: default v2 layout assumed; pass --fields to name the layout)"
                } else {
                    ""
                };
                stats.skip(
                    file,
                    line_no,
                    format_args!(
                        "expected {} fields, found {}{hint}",
                        layout.len(),
                        self.spans.len()
                    ),
                );
                return Ok(());
            }
            Some(Refusal::Value(name, why)) => {
                stats.skip(
                    file,
                    line_no,
                    format_args!("field {name}: {}", why.describe()),
                );
                return Ok(());
            }
        }

        if self.cols.is_none() {
            let cols = columns_for(layout, opts);
            self.plan = Plan::compile(layout, &cols);
            self.cols = Some(cols);
        }
        let Some(c) = self.cols.as_mut() else {
            return Ok(());
        };
        let mut extra_written = false;
        for (slot, v) in layout.slots.iter().zip(&self.vals) {
            match slot {
                Slot::Known(f) => {
                    let i = f.index();
                    if *f == F::LogStatus {
                        match v {
                            Val::Int(x) if *x == STATUS_NODATA as i64 => stats.nodata += 1,
                            Val::Int(x) if *x == STATUS_SKIPDATA as i64 => stats.skipdata += 1,
                            _ => {}
                        }
                    }
                    match *v {
                        Val::Null => c.push_null(i),
                        Val::Int(x) => c.push_int(i, x),
                        Val::Ip(k) => c.push_ip(i, k),
                        Val::Str(s, e) => c.push_str(i, &text[s as usize..e as usize]),
                    }
                }
                Slot::Unknown(name) => {
                    if let (Val::Str(s, e), Some(extra)) = (*v, c.extra.as_mut()) {
                        if extra_written {
                            extra.push_partial(b" ");
                        }
                        extra.push_partial(name.as_bytes());
                        extra.push_partial(b"=");
                        extra.push_partial(&text[s as usize..e as usize]);
                        extra_written = true;
                    }
                }
            }
        }
        if let Some(extra) = c.extra.as_mut() {
            extra.end_value(!extra_written);
        }
        stats.records += 1;
        c.end_row(line_no);
        if c.is_full() {
            self.flush(sink)?;
        }
        Ok(())
    }
}

/// Fills `buf[*len..end]` from `reader` until it is full or the input ends.
fn fill(reader: &mut impl Read, buf: &mut [u8], len: &mut usize, end: usize) -> io::Result<bool> {
    while *len < end {
        match reader.read(&mut buf[*len..end]) {
            Ok(0) => return Ok(true),
            Ok(n) => *len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Decodes one text object. Batches go to `sink` as they fill; malformed lines are counted in
/// `stats` with their line numbers. A read error (truncated or corrupt gzip) ends the file with
/// an error after the records before it were delivered.
pub fn decode<R: Read>(
    mut reader: R,
    file: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let mut st = TextState {
        file,
        opts,
        layout: None,
        cols: None,
        plan: None,
        spans: Vec::with_capacity(64),
        vals: Vec::with_capacity(64),
        line_no: 0,
        ix: fast::Index::default(),
        bad: Vec::new(),
        status: Vec::new(),
    };
    // A block always holds a whole line of the maximum length, so only longer lines span blocks.
    let block = BLOCK.max(opts.max_line_len.saturating_add(2));
    let mut buf = vec![0u8; block + split::PAD];
    let mut len = 0;
    // Bytes seen so far of an over-long line that did not fit in a block.
    let mut discarding: Option<usize> = None;
    loop {
        let (eof, err) = match fill(&mut reader, &mut buf, &mut len, block) {
            Ok(eof) => (eof, None),
            Err(e) => (false, Some(e)),
        };
        let mut start = 0;
        if let Some(seen) = discarding {
            match memchr::memchr(b'\n', &buf[..len]) {
                Some(i) => {
                    st.line_no += 1;
                    st.too_long(stats, seen + i);
                    discarding = None;
                    start = i + 1;
                }
                None => {
                    let seen = seen + len;
                    discarding = Some(seen);
                    len = 0;
                    if eof {
                        st.line_no += 1;
                        st.too_long(stats, seen);
                    }
                    if let Some(source) = err {
                        return read_error(&mut st, sink, source);
                    }
                    if eof {
                        break;
                    }
                    continue;
                }
            }
        }
        let limit = if eof && err.is_none() && len > start && buf[len - 1] != b'\n' {
            // The last line has no newline: give it one (the buffer has padding for it).
            buf[len] = b'\n';
            len += 1;
            len
        } else {
            memchr::memrchr(b'\n', &buf[start..len]).map_or(start, |i| start + i + 1)
        };
        if limit == start && len == block && err.is_none() {
            // A block without a newline: the line is longer than any line we keep.
            discarding = Some(len - start);
            len = 0;
            continue;
        }
        st.lines(&buf, start, limit, stats, sink)?;
        if let Some(source) = err {
            return read_error(&mut st, sink, source);
        }
        buf.copy_within(limit..len, 0);
        len -= limit;
        if eof && len == 0 {
            break;
        }
    }
    st.flush(sink)
}

fn read_error(
    st: &mut TextState<'_>,
    sink: &mut dyn FnMut(RecordBatch),
    source: io::Error,
) -> Result<(), DecodeError> {
    st.flush(sink)?;
    Err(DecodeError::Read {
        file: st.file.to_string(),
        line: st.line_no,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_separators_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for sep in [b' ', b'\t'] {
                    let mut s = vec![b'x'; len];
                    s[at] = sep;
                    if at + 3 < len {
                        s[at + 3] = b' ';
                    }
                    assert_eq!(find_sep(&s), Some(at), "len {len} at {at}");
                }
            }
            assert_eq!(find_sep(&vec![0x21u8; len]), None);
            assert_eq!(find_sep(&vec![0x1fu8; len]), None);
        }
    }

    #[test]
    fn tokenizes_runs_of_blanks() {
        let mut spans = Vec::new();
        tokenize(b"  a  bb\tc ", &mut spans);
        assert_eq!(spans, [(2, 3), (5, 7), (8, 9)]);
    }

    /// Lines and their numbers as the decoder sees them, for a small reader buffer: every
    /// record, skip and line number must not depend on where blocks and reads split.
    fn decode_text(text: &[u8], max: usize) -> (FileStats, Vec<RecordBatch>) {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(out.len()).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let opts = DecodeOptions {
            max_line_len: max,
            ..Default::default()
        };
        let mut stats = FileStats::new(&opts);
        let mut batches = Vec::new();
        decode(Trickle(text, 7), "t", &opts, &mut stats, &mut |b| {
            batches.push(b)
        })
        .unwrap();
        (stats, batches)
    }

    #[test]
    fn over_long_lines_are_counted_with_their_numbers() {
        let good = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK";
        let long = "x".repeat(70_000);
        let text = format!("{good}\n{long}\n{good}\n{long}");
        let (stats, batches) = decode_text(text.as_bytes(), 64 * 1024);
        assert_eq!(stats.records, 2);
        assert_eq!(stats.skipped, 2);
        assert_eq!(
            stats.samples.iter().map(|s| s.line).collect::<Vec<_>>(),
            [2, 4]
        );
        assert!(stats.samples[0].reason.contains("70000 bytes"));
        let lines: Vec<u64> = batches
            .iter()
            .flat_map(|b| {
                b.column(crate::schema::COL_LINE)
                    .as_any()
                    .downcast_ref::<arrow_array::UInt64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(lines, [1, 3]);
        // A line over a small limit but inside one block.
        let (stats, _) = decode_text(format!("{good}\n{good} \n").as_bytes(), good.len());
        assert_eq!((stats.records, stats.skipped), (1, 1));
    }
}
