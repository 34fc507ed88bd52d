//! Text flow logs: header-driven, any field order, any subset, unknown fields kept.

use std::io::BufRead;

use arrow_array::RecordBatch;

use super::builder::{BatchBuilder, Col};
use super::layout::{is_header, Layout, Slot};
use super::lines::{Line, LineReader};
use super::values::{self, Val};
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{F, NUM_FIELDS, STATUS_NODATA, STATUS_SKIPDATA};

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

fn builder_for(layout: &Layout, capacity: usize) -> BatchBuilder {
    let mut present = [false; NUM_FIELDS];
    for s in &layout.slots {
        if let Slot::Known(f) = s {
            present[f.index()] = true;
        }
    }
    BatchBuilder::new(&present, layout.has_unknown(), capacity)
}

/// Position of the first space or tab in `s`, eight bytes at a time.
#[inline]
fn find_sep(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has = |x: u64, b: u64| {
        let y = x ^ (LO * b);
        y.wrapping_sub(LO) & !y & HI
    };
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(w);
        // The lowest flagged byte is always a true match (borrows only propagate upwards).
        let m = has(x, 0x20) | has(x, 0x09);
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

/// ASCII check a word at a time (lines are short, so the byte-wise tail of the standard
/// library's version dominated).
#[inline]
fn is_ascii(s: &[u8]) -> bool {
    let mut acc = 0u64;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        acc |= u64::from_le_bytes(w);
    }
    let tail = chunks.remainder().iter().fold(0u8, |a, &b| a | b);
    (acc & 0x8080_8080_8080_8080) == 0 && tail < 0x80
}

/// Why a data line was refused.
enum Refusal {
    Count,
    Value(&'static str, values::BadValue),
}

/// Tokenizes and parses a data line in one pass, straight from the layout.
#[inline]
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

/// Decoder state carried from line to line of one object.
struct TextState<'a> {
    file: &'a str,
    opts: &'a DecodeOptions,
    layout: Option<Layout>,
    builder: Option<BatchBuilder>,
    spans: Vec<(u32, u32)>,
    vals: Vec<Val>,
}

impl TextState<'_> {
    fn flush(&mut self, sink: &mut dyn FnMut(RecordBatch)) -> Result<(), DecodeError> {
        if let Some(b) = self.builder.as_mut().filter(|b| b.rows() > 0) {
            let batch = b.finish().map_err(|source| DecodeError::Arrow {
                file: self.file.to_string(),
                source,
            })?;
            sink(batch);
        }
        Ok(())
    }

    fn line(
        &mut self,
        line_no: u64,
        line: Line<'_>,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        let (file, opts) = (self.file, self.opts);
        let text = match line {
            Line::TooLong(n) => {
                stats.skip(
                    file,
                    line_no,
                    format_args!(
                        "line is {n} bytes, over the {} byte limit",
                        opts.max_line_len
                    ),
                );
                return Ok(());
            }
            Line::Text(t) => t,
        };
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
                    self.builder = None;
                    self.layout = Some(new);
                }
                return Ok(());
            }
        }
        let layout = self
            .layout
            .get_or_insert_with(|| opts.fields.clone().unwrap_or_else(Layout::default_v2));
        if !is_ascii(text) && std::str::from_utf8(text).is_err() {
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

        let b = self
            .builder
            .get_or_insert_with(|| builder_for(layout, opts.batch_size));
        let mut extra_written = false;
        for (slot, v) in layout.slots.iter().zip(&self.vals) {
            match slot {
                Slot::Known(f) => {
                    if *f == F::LogStatus {
                        match v {
                            Val::Int(x) if *x == STATUS_NODATA as i64 => stats.nodata += 1,
                            Val::Int(x) if *x == STATUS_SKIPDATA as i64 => stats.skipdata += 1,
                            _ => {}
                        }
                    }
                    let Some(col) = b.col(f.index()) else {
                        continue;
                    };
                    match (*v, col) {
                        (Val::Null, c) => c.append_null(),
                        (Val::Int(x), c) => c.append_int(Some(x)),
                        (Val::Ip(k), Col::Ip(c)) => c.append(Some(k)),
                        (Val::Str(s, e), Col::Str(c)) => {
                            c.append(Some(&text[s as usize..e as usize]))
                        }
                        (_, c) => c.append_null(),
                    }
                }
                Slot::Unknown(name) => {
                    if let (Val::Str(s, e), Some(extra)) = (*v, b.extra.as_mut()) {
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
        if let Some(extra) = b.extra.as_mut() {
            extra.end_value(!extra_written);
        }
        stats.records += 1;
        if b.end_row(line_no) {
            self.flush(sink)?;
        }
        Ok(())
    }
}

/// Decodes one text object. Batches go to `sink` as they fill; malformed lines are counted in
/// `stats` with their line numbers. A read error (truncated or corrupt gzip) ends the file with
/// an error after the records before it were delivered.
pub fn decode<R: BufRead>(
    reader: R,
    file: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let mut lines = LineReader::new(reader, opts.max_line_len);
    let mut st = TextState {
        file,
        opts,
        layout: None,
        builder: None,
        spans: Vec::with_capacity(64),
        vals: Vec::with_capacity(64),
    };
    let mut last_line = 0;
    let read = lines.for_each(|n, line| {
        last_line = n;
        st.line(n, line, stats, sink)
    });
    match read {
        Ok(result) => {
            result?;
            st.flush(sink)
        }
        Err(source) => {
            st.flush(sink)?;
            Err(DecodeError::Read {
                file: file.to_string(),
                line: last_line,
                source,
            })
        }
    }
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
}
