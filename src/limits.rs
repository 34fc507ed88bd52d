//! Limits on untrusted input: how much memory any single input may make egresswatch hold.
//!
//! Flow-log lines, Parquet files, JSON documents (inventory, CloudTrail, queue bodies, CloudWatch
//! Logs and Firehose payloads) and the number of distinct things counted per run can all be shaped
//! by whoever writes them. Each has a bound here; over a bound the input is a counted skip or a
//! clear error naming the object, never an allocation that grows with the input.
//!
//! Values come from, in order: the `--max-*` flags of the commands that read input, the
//! `EGRESSWATCH_MAX_*` environment variables (the only way to set them in the Lambda), the
//! defaults below. Sizes accept a byte count or a `KiB`/`MiB`/`GiB` suffix. The process-wide value
//! is [`install`]ed once by the entry point; library code reads it with [`get`].

use std::io::{self, Read};
use std::sync::OnceLock;

/// The bounds. See README "Limits on untrusted input".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest flow-log line (text objects, CloudWatch Logs messages, Firehose lines), bytes.
    /// Longer lines are consumed without buffering and counted as skipped.
    pub max_line_bytes: usize,
    /// Largest declared uncompressed size of one Parquet row group (or of one of its column
    /// chunks), bytes. A file declaring more is refused before any row is read.
    pub max_row_group_bytes: u64,
    /// Most rows one Parquet row group may declare.
    pub max_row_group_rows: u64,
    /// Largest JSON document read whole: an inventory file, a CloudTrail file (after gunzip),
    /// an SQS / EventBridge message body, a CloudWatch Logs payload or envelope, bytes.
    pub max_json_bytes: usize,
    /// Largest flow-log object fetched from S3 (replay, watch, the Lambda), bytes as stored:
    /// such objects are held in memory whole while they are decoded. A larger one fails by
    /// name before its body is read (listed size, notified size or Content-Length).
    pub max_object_bytes: u64,
    /// Most distinct keys one table tracks: rule aggregates (rule, ENI, destination, window) per
    /// worker and merged, baseline cells (resource, destination, hour) and beacon series, open
    /// rule windows of `watch` / the Lambda. New keys over it are counted (`over_limit`), logged
    /// once, and not tracked; existing keys keep counting.
    pub max_keys: usize,
}

pub const DEFAULT: Limits = Limits {
    max_line_bytes: 64 * 1024,
    max_row_group_bytes: 1 << 30,
    max_row_group_rows: 1 << 26,
    max_json_bytes: 256 << 20,
    // AWS writes flow-log objects of at most a few hundred MiB; 2 GiB leaves room for any
    // honest writer and still keeps a replay's few prefetched objects inside a task's memory.
    max_object_bytes: 2 << 30,
    max_keys: 2_000_000,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT
    }
}

/// One limit's names, for parsing and for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Name {
    pub env: &'static str,
    pub flag: &'static str,
}

pub const LINE: Name = Name {
    env: "EGRESSWATCH_MAX_LINE_BYTES",
    flag: "--max-line-bytes",
};
pub const ROW_GROUP_BYTES: Name = Name {
    env: "EGRESSWATCH_MAX_ROW_GROUP_BYTES",
    flag: "--max-row-group-bytes",
};
pub const ROW_GROUP_ROWS: Name = Name {
    env: "EGRESSWATCH_MAX_ROW_GROUP_ROWS",
    flag: "--max-row-group-rows",
};
pub const JSON: Name = Name {
    env: "EGRESSWATCH_MAX_JSON_BYTES",
    flag: "--max-json-bytes",
};
pub const OBJECT: Name = Name {
    env: "EGRESSWATCH_MAX_OBJECT_BYTES",
    flag: "--max-object-bytes",
};
pub const KEYS: Name = Name {
    env: "EGRESSWATCH_MAX_KEYS",
    flag: "--max-keys",
};

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("{name}: {value:?} is not a size (a byte count, or a number with KiB, MiB or GiB)")]
    Invalid { name: String, value: String },
    #[error("{name}: must be at least 1")]
    Zero { name: String },
}

/// Parses `65536`, `64KiB`, `256MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB` as binary
/// multiples: these are memory bounds, not disk sizes).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A size setting: `flag` (already given on the command line) wins over the environment.
fn setting(flag: Option<&str>, name: Name, default: u64) -> Result<u64, LimitsError> {
    let (label, value) = match flag {
        Some(v) => (name.flag, v.to_string()),
        None => match std::env::var(name.env) {
            Ok(v) if !v.trim().is_empty() => (name.env, v),
            _ => return Ok(default),
        },
    };
    let n = parse_size(&value).ok_or_else(|| LimitsError::Invalid {
        name: label.to_string(),
        value: value.clone(),
    })?;
    if n == 0 {
        return Err(LimitsError::Zero {
            name: label.to_string(),
        });
    }
    Ok(n)
}

/// Values given as flags (strings, parsed here so flags and variables accept the same forms).
#[derive(Debug, Clone, Default)]
pub struct Overrides<'a> {
    pub max_line_bytes: Option<&'a str>,
    pub max_row_group_bytes: Option<&'a str>,
    pub max_row_group_rows: Option<&'a str>,
    pub max_json_bytes: Option<&'a str>,
    pub max_object_bytes: Option<&'a str>,
    pub max_keys: Option<&'a str>,
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Limits {
    /// The environment's limits (`EGRESSWATCH_MAX_*`), defaults for those unset.
    pub fn from_env() -> Result<Limits, LimitsError> {
        Limits::resolve(&Overrides::default())
    }

    /// Flags over the environment over the defaults.
    pub fn resolve(o: &Overrides<'_>) -> Result<Limits, LimitsError> {
        let d = DEFAULT;
        Ok(Limits {
            max_line_bytes: usize_of(setting(o.max_line_bytes, LINE, d.max_line_bytes as u64)?),
            max_row_group_bytes: setting(
                o.max_row_group_bytes,
                ROW_GROUP_BYTES,
                d.max_row_group_bytes,
            )?,
            max_row_group_rows: setting(
                o.max_row_group_rows,
                ROW_GROUP_ROWS,
                d.max_row_group_rows,
            )?,
            max_json_bytes: usize_of(setting(o.max_json_bytes, JSON, d.max_json_bytes as u64)?),
            max_object_bytes: setting(o.max_object_bytes, OBJECT, d.max_object_bytes)?,
            max_keys: usize_of(setting(o.max_keys, KEYS, d.max_keys as u64)?),
        })
    }
}

static INSTALLED: OnceLock<Limits> = OnceLock::new();

/// Sets the process-wide limits (once, at start-up, before any input is read). Returns false
/// if they were already set (the first value stays).
pub fn install(l: Limits) -> bool {
    INSTALLED.set(l).is_ok()
}

/// The process-wide limits: the installed ones, else the environment's (an unreadable variable
/// is logged and its default used: a library caller has nowhere to report it; the CLI and the
/// Lambda validate the environment at start-up and refuse to run instead).
pub fn get() -> &'static Limits {
    INSTALLED.get_or_init(|| {
        Limits::from_env().unwrap_or_else(|e| {
            tracing::error!("{e}; using the default limits");
            DEFAULT
        })
    })
}

/// Whether an error from [`read_bounded`] is the limit (not an I/O failure).
pub fn is_over_limit(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidData && e.to_string().contains(JSON.env)
}

/// Reads all of `r` into memory, refusing more than `limit` bytes: the error says the limit and
/// how to raise it. Memory grows by `try_reserve`, so an allocation the process cannot get is an
/// error too, not an abort.
pub fn read_bounded<R: Read>(r: R, limit: usize, size_hint: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    read_bounded_into(r, limit, size_hint, &mut out)?;
    Ok(out)
}

/// [`read_bounded`] appending to a reused buffer (cleared first).
pub fn read_bounded_into<R: Read>(
    mut r: R,
    limit: usize,
    size_hint: usize,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    out.clear();
    out.try_reserve_exact(size_hint.min(limit))
        .map_err(alloc_error)?;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        if out.len() + n > limit {
            return Err(over_json(limit));
        }
        if out.capacity() - out.len() < n {
            // Double, but never past the limit.
            let more = out.capacity().max(n).min(limit - out.len());
            out.try_reserve_exact(more).map_err(alloc_error)?;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// The error of a document over the JSON limit.
pub fn over_json(limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than the {limit} byte limit on one JSON document ({} / {}); not read",
            JSON.env, JSON.flag
        ),
    )
}

/// The message for an S3 object over [`Limits::max_object_bytes`].
pub fn over_object(size: u64, limit: u64) -> String {
    format!(
        "{size} bytes, over the {limit} byte limit on one object ({} / {}); not read",
        OBJECT.env, OBJECT.flag
    )
}

fn alloc_error(e: std::collections::TryReserveError) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "cannot allocate memory for the document ({e}); lower {}",
            JSON.env
        ),
    )
}

/// A one-time warning for a table that reached [`Limits::max_keys`]: logs the first time only,
/// and counts every key refused.
#[derive(Debug, Default, Clone)]
pub struct KeyCap {
    pub over_limit: u64,
}

impl KeyCap {
    /// Counts a refused new key of `table`, warning on the first one.
    pub fn refuse(&mut self, table: &str, cap: usize) {
        if self.over_limit == 0 {
            tracing::warn!(
                table,
                max_keys = cap,
                "more distinct keys than the limit ({} / {}): new ones are counted as over_limit and not tracked",
                KEYS.env,
                KEYS.flag
            );
        }
        self.over_limit += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("256 MiB"), Some(256 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("1.5GiB"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("99999999999999999999GiB"), None);
    }

    #[test]
    fn flags_win_over_defaults_and_zero_is_refused() {
        let l = Limits::resolve(&Overrides {
            max_keys: Some("10"),
            max_json_bytes: Some("1MiB"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(l.max_keys, 10);
        assert_eq!(l.max_json_bytes, 1 << 20);
        assert!(Limits::resolve(&Overrides {
            max_keys: Some("0"),
            ..Default::default()
        })
        .is_err());
        assert!(Limits::resolve(&Overrides {
            max_line_bytes: Some("big"),
            ..Default::default()
        })
        .unwrap_err()
        .to_string()
        .contains("--max-line-bytes"));
    }

    #[test]
    fn bounded_reads_stop_at_the_limit() {
        let data = vec![7u8; 100_000];
        assert_eq!(read_bounded(&data[..], 100_000, 0).unwrap().len(), 100_000);
        let e = read_bounded(&data[..], 99_999, 0).unwrap_err();
        assert!(is_over_limit(&e), "{e}");
        // An endless reader is refused after the limit, not read forever.
        let e = read_bounded(io::repeat(b'x'), 1 << 20, 0).unwrap_err();
        assert!(is_over_limit(&e));
    }
}
