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
    let mut layout: Option<Layout> = None;
    let mut builder: Option<BatchBuilder> = None;
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(64);
    let mut vals: Vec<Val> = Vec::with_capacity(64);
    let mut line_no: u64 = 0;
    let arrow_err = |source| DecodeError::Arrow {
        file: file.to_string(),
        source,
    };

    loop {
        let next = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(source) => {
                if let Some(b) = builder.as_mut().filter(|b| b.rows() > 0) {
                    sink(b.finish().map_err(arrow_err)?);
                }
                return Err(DecodeError::Read {
                    file: file.to_string(),
                    line: line_no,
                    source,
                });
            }
        };
        line_no += 1;
        let text = match next {
            Line::TooLong(n) => {
                stats.skip(
                    file,
                    line_no,
                    format_args!(
                        "line is {n} bytes, over the {} byte limit",
                        opts.max_line_len
                    ),
                );
                continue;
            }
            Line::Text(t) => t,
        };
        tokenize(text, &mut spans);
        if spans.is_empty() {
            continue;
        }
        let tokens = spans.iter().map(|&(s, e)| &text[s as usize..e as usize]);
        if is_header(tokens.clone()) {
            stats.headers += 1;
            let new = Layout::from_names(tokens);
            if layout.as_ref() != Some(&new) {
                if let Some(b) = builder.as_mut().filter(|b| b.rows() > 0) {
                    sink(b.finish().map_err(arrow_err)?);
                }
                builder = None;
                layout = Some(new);
            }
            continue;
        }
        let layout =
            layout.get_or_insert_with(|| opts.fields.clone().unwrap_or_else(Layout::default_v2));
        if std::str::from_utf8(text).is_err() {
            stats.skip(file, line_no, format_args!("line is not valid UTF-8"));
            continue;
        }
        if spans.len() != layout.len() {
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
                    spans.len()
                ),
            );
            continue;
        }

        vals.clear();
        let mut bad = None;
        for (slot, &(s, e)) in layout.slots.iter().zip(&spans) {
            let tok = &text[s as usize..e as usize];
            let v = match slot {
                Slot::Known(f) => match values::parse(f.def().kind, tok, s) {
                    Ok(v) => v,
                    Err(why) => {
                        bad = Some((f.def().name, why));
                        break;
                    }
                },
                Slot::Unknown(_) if tok == b"-" => Val::Null,
                Slot::Unknown(_) => Val::Str(s, e),
            };
            vals.push(v);
        }
        if let Some((name, why)) = bad {
            stats.skip(
                file,
                line_no,
                format_args!("field {name}: {}", why.describe()),
            );
            continue;
        }

        let b = builder.get_or_insert_with(|| builder_for(layout, opts.batch_size));
        let mut extra_written = false;
        for (slot, v) in layout.slots.iter().zip(&vals) {
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
            sink(b.finish().map_err(arrow_err)?);
        }
    }
    if let Some(b) = builder.as_mut().filter(|b| b.rows() > 0) {
        sink(b.finish().map_err(arrow_err)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_runs_of_blanks() {
        let mut spans = Vec::new();
        tokenize(b"  a  bb\tc ", &mut spans);
        assert_eq!(spans, [(2, 3), (5, 7), (8, 9)]);
    }
}
