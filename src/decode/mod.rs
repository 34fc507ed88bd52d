//! Decode: flow-log objects (gzip or plain text, any field order and version; Parquet) into Arrow
//! record batches of the canonical schema in [`crate::schema`].
//!
//! Memory is bounded by `batch_size` rows and `max_line_len` bytes whatever the object size: text
//! is streamed line by line through one reused buffer, Parquet row group by row group.

pub mod columns;
pub mod cwlogs;
pub mod fast;
pub mod layout;
pub mod ocsf;
pub mod parquet;
pub mod split;
pub mod text;
pub mod token;
pub mod values;

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use arrow_array::RecordBatch;
use bytes::Bytes;
use flate2::bufread::MultiGzDecoder;

pub use layout::Layout;

use crate::schema::F;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{file}: cannot open: {source}")]
    Open { file: String, source: io::Error },
    #[error("{file}: read failed after line {line} (truncated or corrupt gzip?): {source}")]
    Read {
        file: String,
        line: u64,
        source: io::Error,
    },
    #[error("{file}: not a readable Parquet flow log: {message}")]
    Parquet { file: String, message: String },
    /// The object declares more than a limit of [`crate::limits`] allows; nothing of it was read.
    #[error("{file}: {message}")]
    OverLimit { file: String, message: String },
    #[error("{file}: building record batch: {source}")]
    Arrow {
        file: String,
        source: arrow_schema::ArrowError,
    },
}

#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Layout for text objects without a header line (CloudWatch / Firehose exports).
    pub fields: Option<Layout>,
    /// Fields to materialise (Parquet columns to read; text fields to store, the others are
    /// still validated); `None` keeps every documented field.
    pub projection: Option<Vec<F>>,
    pub batch_size: usize,
    /// Longest line kept ([`crate::limits::Limits::max_line_bytes`] by default); longer lines
    /// are consumed without buffering and counted as skipped.
    pub max_line_len: usize,
    /// Skipped lines kept per file for the summary (all are counted).
    pub max_skip_samples: usize,
    /// Skipped lines logged per file at WARN (all are counted, the rest at DEBUG).
    pub max_skip_warnings: usize,
    /// Decode text with the reference (line-at-a-time) parser only. For tests that prove the
    /// fast path gives the same batches, and for diagnosing it; never faster.
    pub reference_only: bool,
    /// Field orders of header-less records by log group or Firehose delivery stream (a fields
    /// map, the inventory's flow logs); `fields` is the fallback.
    pub sources: Option<std::sync::Arc<cwlogs::FieldSources>>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            fields: None,
            projection: None,
            batch_size: 8192,
            max_line_len: crate::limits::get().max_line_bytes,
            max_skip_samples: 20,
            max_skip_warnings: 5,
            reference_only: false,
            sources: None,
        }
    }
}

/// One skipped line or row, kept for the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skip {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// Counters for one decoded object.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    /// Data lines (or Parquet rows) decoded, NODATA and SKIPDATA included.
    pub records: u64,
    pub nodata: u64,
    pub skipdata: u64,
    /// Malformed lines or rows, skipped.
    pub skipped: u64,
    pub headers: u64,
    pub samples: Vec<Skip>,
    max_samples: usize,
    max_warnings: usize,
}

impl FileStats {
    pub fn new(opts: &DecodeOptions) -> Self {
        FileStats {
            max_samples: opts.max_skip_samples,
            max_warnings: opts.max_skip_warnings,
            ..Default::default()
        }
    }

    /// Counts a skipped line and logs it with its file and line number.
    pub fn skip(&mut self, file: &str, line: u64, reason: fmt::Arguments<'_>) {
        self.skipped += 1;
        if self.skipped <= self.max_warnings as u64 {
            tracing::warn!(file, line, "skipped malformed record: {reason}");
        } else {
            tracing::debug!(file, line, "skipped malformed record: {reason}");
        }
        if self.samples.len() < self.max_samples {
            self.samples.push(Skip {
                file: file.to_string(),
                line,
                reason: reason.to_string(),
            });
        }
    }
}

/// Where an object's bytes come from.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    Memory { name: String, data: Bytes },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Memory { name, .. } => name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Parquet,
    Plain,
}

/// Recognises the format by magic bytes, never by the file name.
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if head.starts_with(b"PAR1") {
        Format::Parquet
    } else {
        Format::Plain
    }
}

const READ_BUF: usize = 256 * 1024;

/// Decodes one object of any supported format, sending canonical batches to `sink`.
pub fn decode_input(
    input: &Input,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let name = input.name();
    let _span = tracing::debug_span!("decode", file = %name).entered();
    match input {
        Input::Path(path) => {
            let open_err = |source| DecodeError::Open {
                file: name.clone(),
                source,
            };
            let mut file = File::open(path).map_err(open_err)?;
            let mut head = [0u8; 4];
            let n = read_head(&mut file, &mut head).map_err(open_err)?;
            file.seek(SeekFrom::Start(0)).map_err(open_err)?;
            match sniff(&head[..n]) {
                Format::Parquet => parquet::decode(file, &name, opts, stats, sink),
                Format::Gzip => {
                    let gz = MultiGzDecoder::new(BufReader::with_capacity(READ_BUF, file));
                    text_like(gz, &name, opts, stats, sink)
                }
                Format::Plain => text_like(file, &name, opts, stats, sink),
            }
        }
        Input::Memory { data, .. } => match sniff(data) {
            Format::Parquet => parquet::decode(data.clone(), &name, opts, stats, sink),
            Format::Gzip => text_like(MultiGzDecoder::new(&data[..]), &name, opts, stats, sink),
            Format::Plain => text_like(&data[..], &name, opts, stats, sink),
        },
    }
}

/// Text content, recognised by its first bytes: CloudWatch Logs envelopes (JSON objects, as
/// Firehose writes a subscription's payloads), header-less lines of a Firehose delivery stream
/// whose formats are known, or flow-log text.
fn text_like<R: Read>(
    mut reader: R,
    name: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let mut head = [0u8; 4096];
    let n = read_head(&mut reader, &mut head).map_err(|source| DecodeError::Read {
        file: name.to_string(),
        line: 0,
        source,
    })?;
    let head = &head[..n];
    let rest = head.chain(reader);
    if head.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{') {
        return cwlogs::decode(rest, name, opts, stats, sink);
    }
    if opts.fields.is_none() {
        if let Some(layouts) = opts
            .sources
            .as_deref()
            .and_then(|s| s.for_firehose_object(name))
            .filter(|l| !l.is_empty())
        {
            let first = head.split(|&c| c == b'\n').next().unwrap_or(&[]);
            let tokens = first
                .split(|c| c.is_ascii_whitespace())
                .filter(|t| !t.is_empty());
            if !layout::is_header(tokens) {
                if let [one] = layouts {
                    let opts = DecodeOptions {
                        fields: Some(one.clone()),
                        ..opts.clone()
                    };
                    return text::decode(rest, name, &opts, stats, sink);
                }
                return cwlogs::decode_lines(rest, layouts, name, opts, stats, sink);
            }
        }
    }
    text::decode(rest, name, opts, stats, sink)
}

fn read_head(r: &mut impl Read, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
