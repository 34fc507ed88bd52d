//! Flow records without a header: CloudWatch Logs envelopes (subscription payloads, Kinesis
//! records, Firehose-to-S3 objects of concatenated envelopes) and lines flow logs sent straight
//! to Firehose, with the field order taken from the sources the user has (`--fields`, a
//! per-log-group map, the flow logs' `LogFormat` in the inventory).
//!
//! Messages are not parsed here: each one is appended, as a line, to a buffer per layout and the
//! buffers go through the text decoder ([`super::text`]), so every field is validated exactly as
//! in a flow-log file. The decoder's line numbers are mapped back to the position of the log
//! event in the object (1-based, control messages not counted): that is the evidence `line`.
//!
//! When a log group has several formats (several flow logs feeding one group share its ENI
//! streams), each message is matched against them by field count and token shape; a message
//! that fits none, or more than one, is a counted skip, never a guess.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
use serde::Deserialize;

use super::layout::{is_header, Layout, Slot};
use super::{DecodeError, DecodeOptions, FileStats};
use crate::schema::{Kind, COL_LINE};

/// Where field orders come from, besides `--fields` (which is [`DecodeOptions::fields`]).
#[derive(Debug, Clone, Default)]
pub struct FieldSources {
    /// Log group -> its formats (from the fields map, else from the inventory's flow logs).
    pub log_groups: HashMap<String, Vec<Layout>>,
    /// Firehose delivery stream name -> its formats (flow logs sent directly to Firehose).
    pub delivery_streams: HashMap<String, Vec<Layout>>,
}

#[derive(Debug, thiserror::Error)]
pub enum FieldsMapError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: {name}: {message}")]
    Format {
        path: String,
        name: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    #[serde(default)]
    log_groups: HashMap<String, OneOrMany>,
    #[serde(default)]
    delivery_streams: HashMap<String, OneOrMany>,
}

fn push_unique(v: &mut Vec<Layout>, l: Layout) {
    if !v.contains(&l) {
        v.push(l);
    }
}

impl FieldSources {
    /// Reads a fields map (`--fields-map`):
    ///
    /// ```toml
    /// [log_groups]
    /// "/vpc/flow-logs" = "${version} ${account-id} ${interface-id} ..."
    /// "/vpc/mixed" = ["<format of flow log A>", "<format of flow log B>"]
    /// [delivery_streams]
    /// "vpc-flows" = "..."
    /// ```
    pub fn from_toml(text: &str, path: &str) -> Result<Self, FieldsMapError> {
        let file: MapFile = toml::from_str(text).map_err(|source| FieldsMapError::Toml {
            path: path.to_string(),
            source,
        })?;
        let conv = |m: HashMap<String, OneOrMany>| -> Result<HashMap<String, Vec<Layout>>, FieldsMapError> {
            let mut out = HashMap::new();
            for (name, v) in m {
                let specs = match v {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                let mut layouts = Vec::new();
                for s in specs {
                    let l = Layout::parse_spec(&s).map_err(|message| FieldsMapError::Format {
                        path: path.to_string(),
                        name: name.clone(),
                        message,
                    })?;
                    push_unique(&mut layouts, l);
                }
                out.insert(name, layouts);
            }
            Ok(out)
        };
        Ok(FieldSources {
            log_groups: conv(file.log_groups)?,
            delivery_streams: conv(file.delivery_streams)?,
        })
    }

    /// Adds the formats of the inventory's flow logs (`describe-flow-logs`) for the log groups
    /// and delivery streams the map does not name (the map is the user's explicit word).
    pub fn add_flow_logs(&mut self, flow_logs: &[crate::inventory::files::FlowLog]) {
        let (mut groups, mut streams): (
            HashMap<String, Vec<Layout>>,
            HashMap<String, Vec<Layout>>,
        ) = Default::default();
        for fl in flow_logs {
            let layout = match fl.log_format.as_deref() {
                Some(f) => match Layout::parse_spec(f) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(flow_log = %fl.flow_log_id, "inventory LogFormat not usable: {e}");
                        continue;
                    }
                },
                None => Layout::default_v2(),
            };
            let dest = fl.log_destination_type.as_deref().unwrap_or("");
            if let Some(g) = fl.log_group_name.as_deref().filter(|_| dest != "s3") {
                push_unique(groups.entry(g.to_string()).or_default(), layout.clone());
            }
            if dest == "kinesis-data-firehose" {
                if let Some(name) = fl
                    .log_destination
                    .as_deref()
                    .and_then(|a| a.rsplit_once("deliverystream/"))
                    .map(|(_, n)| n)
                {
                    push_unique(streams.entry(name.to_string()).or_default(), layout);
                }
            }
        }
        for (g, l) in groups {
            self.log_groups.entry(g).or_insert(l);
        }
        for (s, l) in streams {
            self.delivery_streams.entry(s).or_insert(l);
        }
    }

    /// The sources of a run: the fields map file (if any), then the inventory's flow logs;
    /// `None` when neither names a format.
    pub fn load(
        map: Option<&std::path::Path>,
        flow_logs: &[crate::inventory::files::FlowLog],
    ) -> Result<Option<Arc<Self>>, FieldsMapError> {
        let mut s = match map {
            Some(p) => {
                let path = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|source| FieldsMapError::Io {
                    path: path.clone(),
                    source,
                })?;
                Self::from_toml(&text, &path)?
            }
            None => Self::default(),
        };
        s.add_flow_logs(flow_logs);
        Ok((!s.is_empty()).then(|| Arc::new(s)))
    }

    pub fn is_empty(&self) -> bool {
        self.log_groups.is_empty() && self.delivery_streams.is_empty()
    }

    /// The delivery stream formats for an object Firehose wrote: its file name starts with the
    /// stream name (`<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<id>`).
    pub fn for_firehose_object(&self, name: &str) -> Option<&[Layout]> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let stream = firehose_stream_name(base)?;
        self.delivery_streams.get(stream).map(Vec::as_slice)
    }
}

/// The delivery stream part of a Firehose object name, if the name has Firehose's shape.
pub fn firehose_stream_name(base: &str) -> Option<&str> {
    let parts: Vec<&str> = base.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
    (1..parts.len().saturating_sub(7)).find_map(|i| {
        let ok = !parts[i].is_empty()
            && parts[i].bytes().all(|c| c.is_ascii_digit())
            && digits(parts[i + 1], 4)
            && (2..7).all(|k| digits(parts[i + k], 2));
        ok.then(|| {
            let len: usize = parts[..i].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
            &base[..len]
        })
    })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "messageType", borrow, default)]
    message_type: Cow<'a, str>,
    #[serde(rename = "logGroup", borrow, default)]
    log_group: Cow<'a, str>,
    #[serde(rename = "logStream", borrow, default)]
    log_stream: Cow<'a, str>,
    #[serde(rename = "logEvents", borrow, default)]
    log_events: Vec<LogEvent<'a>>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow, default)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// The log group, stream and first event id of an envelope (for naming a Lambda input).
pub fn envelope_name(json: &[u8]) -> Option<String> {
    let e: Envelope<'_> = serde_json::from_slice(json).ok()?;
    let first = e.log_events.first().map_or("", |ev| ev.id.as_ref());
    Some(format!("{}/{}#{}", e.log_group, e.log_stream, first))
}

/// Whether an envelope is a data message (control messages only probe the destination).
pub fn is_control(json: &[u8]) -> bool {
    serde_json::from_slice::<Envelope<'_>>(json).is_ok_and(|e| e.message_type == "CONTROL_MESSAGE")
}

/// Does `tok` look like a value of `slot`? (`-` fits every field.)
fn shape_fits(slot: &Slot, tok: &[u8]) -> bool {
    if tok == b"-" {
        return true;
    }
    let Slot::Known(f) = slot else { return true };
    let digits = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_digit);
    match f.def().kind {
        Kind::U8 | Kind::U16 | Kind::I64 => digits(tok),
        Kind::I32 => digits(tok.strip_prefix(b"-").unwrap_or(tok)),
        Kind::Ip => {
            tok.iter().any(|&c| c == b'.' || c == b':')
                && tok
                    .iter()
                    .all(|c| c.is_ascii_hexdigit() || *c == b'.' || *c == b':')
        }
        Kind::Action => tok == b"ACCEPT" || tok == b"REJECT",
        Kind::LogStatus => tok == b"OK" || tok == b"NODATA" || tok == b"SKIPDATA",
        Kind::Direction => tok == b"ingress" || tok == b"egress",
        Kind::Str => true,
    }
}

fn fits(layout: &Layout, msg: &[u8]) -> bool {
    let mut n = 0;
    for tok in msg.split(|&c| c == b' ').filter(|t| !t.is_empty()) {
        match layout.slots.get(n) {
            Some(slot) if shape_fits(slot, tok) => n += 1,
            _ => return false,
        }
    }
    n == layout.len()
}

/// Buffers of lines per layout, flushed through the text decoder.
struct Lines<'o> {
    opts: &'o DecodeOptions,
    file: &'o str,
    /// (layout, decode options with that layout, lines, event sequence of each line)
    pending: Vec<(Layout, DecodeOptions, Vec<u8>, Vec<u64>)>,
    seq: u64,
}

const FLUSH_BYTES: usize = 1 << 20;

impl<'o> Lines<'o> {
    fn new(opts: &'o DecodeOptions, file: &'o str) -> Self {
        Lines {
            opts,
            file,
            pending: Vec::new(),
            seq: 0,
        }
    }

    fn slot(&mut self, l: &Layout) -> usize {
        if let Some(i) = self.pending.iter().position(|(p, ..)| p == l) {
            return i;
        }
        let opts = DecodeOptions {
            fields: Some(l.clone()),
            ..self.opts.clone()
        };
        self.pending.push((l.clone(), opts, Vec::new(), Vec::new()));
        self.pending.len() - 1
    }

    /// One message: the layout it fits among `cands` (pending slots), appended as a line.
    fn message(
        &mut self,
        msg: &[u8],
        cands: &[usize],
        source: &str,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        self.seq += 1;
        let seq = self.seq;
        let msg = msg.trim_ascii();
        if msg.is_empty() {
            stats.skip(self.file, seq, format_args!("empty log event ({source})"));
            return Ok(());
        }
        if msg.contains(&b'\n') || msg.contains(&b'\r') {
            stats.skip(
                self.file,
                seq,
                format_args!("log event holds several lines, not one flow record ({source})"),
            );
            return Ok(());
        }
        if is_header(msg.split(|&c| c == b' ').filter(|t| !t.is_empty())) {
            stats.skip(
                self.file,
                seq,
                format_args!("log event is a header line, not a flow record ({source})"),
            );
            return Ok(());
        }
        let chosen = if cands.len() == 1 {
            cands[0]
        } else {
            let mut fit = cands
                .iter()
                .copied()
                .filter(|&c| fits(&self.pending[c].0, msg));
            match (fit.next(), fit.next()) {
                (Some(c), None) => c,
                (None, _) => {
                    stats.skip(
                        self.file,
                        seq,
                        format_args!(
                            "record fits none of the {} formats known for {source}",
                            cands.len()
                        ),
                    );
                    return Ok(());
                }
                (Some(_), Some(_)) => {
                    stats.skip(
                        self.file,
                        seq,
                        format_args!(
                            "record fits several of the formats known for {source}; not guessed"
                        ),
                    );
                    return Ok(());
                }
            }
        };
        let p = &mut self.pending[chosen];
        p.2.extend_from_slice(msg);
        p.2.push(b'\n');
        p.3.push(seq);
        if p.2.len() >= FLUSH_BYTES {
            self.flush(chosen, stats, sink)?;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        i: usize,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        let (_, opts, buf, seqs) = &mut self.pending[i];
        if buf.is_empty() {
            return Ok(());
        }
        // The text decoder numbers buffer lines; its skips are re-counted with event numbers.
        let mut part = FileStats {
            max_samples: usize::MAX,
            max_warnings: 0,
            ..Default::default()
        };
        let file = self.file;
        let mut err = None;
        super::text::decode(
            &buf[..],
            file,
            opts,
            &mut part,
            &mut |b: RecordBatch| match renumber(&b, seqs) {
                Ok(b) => sink(b),
                Err(e) => err = Some(e),
            },
        )?;
        if let Some(source) = err {
            return Err(DecodeError::Arrow {
                file: file.to_string(),
                source,
            });
        }
        stats.records += part.records;
        stats.nodata += part.nodata;
        stats.skipdata += part.skipdata;
        stats.headers += part.headers;
        for s in &part.samples {
            let line = seqs.get(s.line as usize - 1).copied().unwrap_or(s.line);
            stats.skip(file, line, format_args!("{}", s.reason));
        }
        buf.clear();
        seqs.clear();
        Ok(())
    }

    fn finish(
        &mut self,
        stats: &mut FileStats,
        sink: &mut dyn FnMut(RecordBatch),
    ) -> Result<(), DecodeError> {
        for i in 0..self.pending.len() {
            self.flush(i, stats, sink)?;
        }
        Ok(())
    }
}

/// Replaces the decoder's buffer line numbers with the log events' sequence numbers.
fn renumber(b: &RecordBatch, seqs: &[u64]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let lines = b
        .column(COL_LINE)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| arrow_schema::ArrowError::SchemaError("line column is not u64".into()))?;
    let mapped: UInt64Array = lines
        .values()
        .iter()
        .map(|&l| seqs.get(l as usize - 1).copied().unwrap_or(l))
        .collect();
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    cols[COL_LINE] = Arc::new(mapped);
    RecordBatch::try_new(b.schema(), cols)
}

/// Decodes a stream of CloudWatch Logs envelopes (one, or many concatenated with or without
/// newlines, as Firehose writes them).
pub fn decode<R: Read>(
    mut reader: R,
    file: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    let fallback = opts.fields.clone().unwrap_or_else(Layout::default_v2);
    let empty = FieldSources::default();
    let sources = opts.sources.as_deref().unwrap_or(&empty);
    let mut lines = Lines::new(opts, file);
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut start = 0;
    // Scan state of the object being delimited: position, depth, inside a string, escaped.
    let (mut pos, mut depth, mut in_str, mut esc) = (0usize, 0usize, false, false);
    let mut eof = false;
    let mut envelopes = 0u64;
    let mut cands: Vec<usize> = Vec::new();
    let max_envelope = crate::limits::get().max_json_bytes;
    loop {
        // Skip separators between envelopes.
        while start < buf.len() && buf[start].is_ascii_whitespace() {
            start += 1;
        }
        if pos < start {
            pos = start;
        }
        if start < buf.len() && buf[start] != b'{' {
            let end = memchr::memchr2(b'{', b'\n', &buf[start + 1..])
                .map_or(buf.len(), |i| start + 1 + i);
            lines.seq += 1;
            stats.skip(
                file,
                lines.seq,
                format_args!("bytes at offset {start} are not a CloudWatch Logs envelope"),
            );
            start = end;
            pos = start;
            continue;
        }
        let mut end = None;
        while pos < buf.len() {
            let c = buf[pos];
            pos += 1;
            if in_str {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                }
                continue;
            }
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = Some(pos);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = end {
            envelopes += 1;
            let json = &buf[start..end];
            match serde_json::from_slice::<Envelope<'_>>(json) {
                Err(e) => {
                    lines.seq += 1;
                    stats.skip(
                        file,
                        lines.seq,
                        format_args!("envelope {envelopes} is not a CloudWatch Logs payload: {e}"),
                    );
                }
                Ok(env) if env.message_type == "CONTROL_MESSAGE" => {
                    tracing::debug!(file, "CloudWatch Logs control message skipped");
                }
                Ok(env) if env.message_type == "DATA_MESSAGE" => {
                    let source = format!("log group {} stream {}", env.log_group, env.log_stream);
                    let layouts = sources
                        .log_groups
                        .get(env.log_group.as_ref())
                        .map(Vec::as_slice)
                        .unwrap_or(std::slice::from_ref(&fallback));
                    cands.clear();
                    for l in layouts {
                        let s = lines.slot(l);
                        cands.push(s);
                    }
                    for ev in &env.log_events {
                        lines.message(ev.message.as_bytes(), &cands, &source, stats, sink)?;
                    }
                    tracing::debug!(
                        file,
                        log_group = %env.log_group,
                        log_stream = %env.log_stream,
                        first_event = env.log_events.first().map_or("", |e| e.id.as_ref()),
                        events = env.log_events.len(),
                        "CloudWatch Logs envelope"
                    );
                }
                Ok(env) if env.log_events.is_empty() => {
                    // Some other JSON object: never silent, even among real envelopes.
                    lines.seq += 1;
                    stats.skip(
                        file,
                        lines.seq,
                        format_args!(
                            "envelope {envelopes} is not a CloudWatch Logs payload (messageType {:?}, no logEvents)",
                            env.message_type
                        ),
                    );
                }
                Ok(env) => {
                    for _ in &env.log_events {
                        lines.seq += 1;
                        stats.skip(
                            file,
                            lines.seq,
                            format_args!(
                                "unknown CloudWatch Logs messageType {}",
                                env.message_type
                            ),
                        );
                    }
                }
            }
            start = end;
            pos = end;
            (depth, in_str, esc) = (0, false, false);
            continue;
        }
        if eof {
            if start < buf.len() {
                lines.seq += 1;
                stats.skip(
                    file,
                    lines.seq,
                    format_args!("truncated CloudWatch Logs envelope at the end of the object"),
                );
            }
            break;
        }
        // Largest envelope accepted (CloudWatch Logs sends at most about 1 MB per payload).
        if buf.len() - start > max_envelope {
            return Err(DecodeError::Read {
                file: file.to_string(),
                line: lines.seq,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "CloudWatch Logs envelope longer than {max_envelope} bytes ({} / {})",
                        crate::limits::JSON.env,
                        crate::limits::JSON.flag
                    ),
                ),
            });
        }
        // Keep the unfinished envelope, read more.
        buf.drain(..start);
        pos -= start;
        start = 0;
        let old = buf.len();
        buf.resize(old + 256 * 1024, 0);
        let n = loop {
            match reader.read(&mut buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    buf.truncate(old);
                    lines.finish(stats, sink)?;
                    return Err(DecodeError::Read {
                        file: file.to_string(),
                        line: lines.seq,
                        source,
                    });
                }
            }
        };
        buf.truncate(old + n);
        eof = n == 0;
    }
    lines.finish(stats, sink)
}

/// Decodes header-less lines (flow logs sent straight to Firehose) whose format is one of
/// `layouts`, choosing per line. Lines are numbered as in the object.
pub fn decode_lines<R: Read>(
    reader: R,
    layouts: &[Layout],
    file: &str,
    opts: &DecodeOptions,
    stats: &mut FileStats,
    sink: &mut dyn FnMut(RecordBatch),
) -> Result<(), DecodeError> {
    use std::io::BufRead;
    let mut lines = Lines::new(opts, file);
    let cands: Vec<usize> = layouts.iter().map(|l| lines.slot(l)).collect();
    let source = "this delivery stream";
    let mut r = std::io::BufReader::with_capacity(256 * 1024, reader);
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        let n = match r.read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(source) => {
                lines.finish(stats, sink)?;
                return Err(DecodeError::Read {
                    file: file.to_string(),
                    line: lines.seq,
                    source,
                });
            }
        };
        if n == 0 {
            break;
        }
        if line.len() > opts.max_line_len {
            lines.seq += 1;
            stats.skip(
                file,
                lines.seq,
                format_args!("line longer than {} bytes", opts.max_line_len),
            );
            continue;
        }
        if line.trim_ascii().is_empty() {
            lines.seq += 1;
            continue;
        }
        lines.message(&line, &cands, source, stats, sink)?;
    }
    lines.finish(stats, sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8]) -> (u64, FileStats) {
        let opts = DecodeOptions::default();
        let mut stats = FileStats::new(&opts);
        let mut rows = 0;
        decode(data, "t", &opts, &mut stats, &mut |b| {
            rows += b.num_rows() as u64
        })
        .unwrap();
        (rows, stats)
    }

    const REC: &str =
        "2 111122223333 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1795165260 1795165318 ACCEPT OK";

    #[test]
    fn braces_and_quotes_inside_messages_do_not_split_envelopes() {
        let odd = r#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"} { \" ] ["}]}"#;
        let ok = format!(
            r#"{{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{{"id":"2","timestamp":1,"message":"{REC}"}}]}}"#
        );
        let (rows, st) = run(format!("{odd}{ok}\n{ok}").as_bytes());
        assert_eq!((rows, st.records, st.skipped), (2, 2, 1));
        assert_eq!(st.samples[0].line, 1);
    }

    #[test]
    fn truncated_and_foreign_bytes_are_counted_skips() {
        let ok = format!(
            r#"{{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{{"id":"2","timestamp":1,"message":"{REC}"}}]}}"#
        );
        let (rows, st) = run(format!("{ok}garbage\n{}", &ok[..40]).as_bytes());
        assert_eq!((rows, st.skipped), (1, 2));
        assert!(st.samples[0]
            .reason
            .contains("not a CloudWatch Logs envelope"));
        assert!(st.samples[1].reason.contains("truncated"));
    }

    #[test]
    fn token_shapes() {
        let v2 = Layout::default_v2();
        assert!(fits(&v2, REC.as_bytes()));
        assert!(fits(&v2, b"2 1 eni-1 - - - - - - - 1 2 - NODATA"));
        assert!(!fits(
            &v2,
            b"2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 OK ACCEPT"
        ));
        assert!(!fits(&v2, b"2 1 eni-1 10.0.0.1"));
    }
}
