//! CloudTrail as a source of ENI history: trail files (`{"Records": [...]}`, gzip), the same
//! records as EventBridge "AWS API Call via CloudTrail" events, and SageMaker state-change
//! events, turned into ledger entries.
//!
//! Kept: EC2 `CreateNetworkInterface`, `DeleteNetworkInterface`,
//! `CreateNetworkInterfacePermission`, `CreateTags`/`DeleteTags` on ENIs, and SageMaker
//! `Create*`/`Delete*`/`UpdateEndpoint`. Ignored: failed calls (any `errorCode`, DryRun
//! included), records without the response that names the ENI, digest and Insight files.
//! Duplicates (CloudTrail may deliver an event twice) are dropped by `eventID`, across files and
//! runs. Order does not matter: the ledger merge is order-free.
//!
//! Several SageMaker-specific details are unverified in public sources (who calls
//! CreateNetworkInterface for a job, whether `vpcConfig` appears in `requestParameters`, the
//! exact `invokedBy`): the parser requires none of them and uses each when present.
//!
//! Speed: a month of a busy account's trail is gigabytes. Each file is inflated into one
//! buffer (bounded by `limits::Limits::max_json_bytes`), searched for the few byte strings every kept record
//! contains, and only when one occurs are record boundaries found (a string-aware brace scan)
//! and only the records that contain a needle parsed as JSON.

use std::collections::HashSet;
use std::time::Instant;

use memchr::memmem;
use serde::Serialize;
use serde_json::Value;

use super::ledger::{CreatedBy, EniLife, Entry, LedgerEvidence, ResourceFact};

#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("cloudtrail {file}: {message}")]
    File { file: String, message: String },
}

/// What reading the trail did; printed and written to `--summary-json` under `cloudtrail`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrailStats {
    pub files: u64,
    /// Digest and Insight files, and files named outside the range.
    pub files_ignored: u64,
    pub failed_files: u64,
    pub bytes_compressed: u64,
    pub bytes_inflated: u64,
    /// Records parsed after the byte prefilter.
    pub records_parsed: u64,
    pub events_kept: u64,
    pub duplicates: u64,
    pub failed_or_dry_run: u64,
    /// Kept event names without the fields they need (logged).
    pub incomplete: u64,
    pub malformed: u64,
    pub elapsed_ms: u64,
    /// Compressed bytes per second per thread.
    pub mb_per_s: f64,
    pub errors: Vec<String>,
}

/// Accumulates entries from trail files and events.
#[derive(Debug, Default)]
pub struct TrailReader {
    seen: HashSet<String>,
    pub entries: Vec<Entry>,
    pub stats: TrailStats,
    busy: std::time::Duration,
    /// Inflate buffer reused across files (a trail month is tens of thousands of files).
    buf: Vec<u8>,
}

const NEEDLES: [&str; 4] = [
    "NetworkInterface",
    "CreateTags",
    "DeleteTags",
    "sagemaker.amazonaws.com",
];

fn finders() -> &'static [memmem::Finder<'static>; 4] {
    static F: std::sync::OnceLock<[memmem::Finder<'static>; 4]> = std::sync::OnceLock::new();
    F.get_or_init(|| NEEDLES.map(memmem::Finder::new))
}

/// The next needle hit at or after a position, each needle searched forward lazily (SIMD
/// memmem; one pass per needle over the file at most, and none past its last hit).
struct Hits<'a> {
    text: &'a [u8],
    next: [Option<usize>; 4],
}

impl<'a> Hits<'a> {
    fn new(text: &'a [u8]) -> Self {
        let f = finders();
        Hits {
            text,
            next: std::array::from_fn(|k| f[k].find(text)),
        }
    }

    /// The first hit at or after `pos`, if any.
    fn from(&mut self, pos: usize) -> Option<usize> {
        let f = finders();
        let mut best = None;
        for (k, n) in self.next.iter_mut().enumerate() {
            if let Some(at) = *n {
                if at < pos {
                    *n = self
                        .text
                        .get(pos..)
                        .and_then(|t| f[k].find(t))
                        .map(|x| x + pos);
                }
            }
            best = match (best, *n) {
                (Some(b), Some(x)) => Some(x.min(b)),
                (None, x) | (x, None) => x,
            };
        }
        best
    }
}

/// Whether a trail object key is a digest or Insight file (never events of ours).
pub fn is_ignored_key(key: &str) -> bool {
    key.contains("CloudTrail-Digest") || key.contains("CloudTrail-Insight")
}

/// The delivery date in a trail key (`.../CloudTrail/<region>/YYYY/MM/DD/...`), as Unix
/// seconds at midnight UTC.
pub fn key_day(key: &str) -> Option<i64> {
    let i = key.find("/CloudTrail/")?;
    let mut parts = key[i + "/CloudTrail/".len()..].split('/');
    let _region = parts.next()?;
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    crate::time::parse_rfc3339(&format!("{y:04}-{m:02}-{d:02}T00:00:00Z"))
}

impl TrailReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Event ids already in the ledger are duplicates too.
    pub fn with_seen(seen: HashSet<String>) -> Self {
        TrailReader {
            seen,
            ..Default::default()
        }
    }

    pub fn finish(&mut self) {
        let ms = self.busy.as_millis() as u64;
        self.stats.elapsed_ms = ms;
        if ms > 0 {
            self.stats.mb_per_s = self.stats.bytes_compressed as f64 / 1e6 / (ms as f64 / 1e3);
        }
    }

    /// Reads one trail object (gzip or plain JSON). A file that fails is counted and reported;
    /// what it yielded before the failure stays.
    pub fn read_file(&mut self, name: &str, data: &[u8]) {
        if is_ignored_key(name) {
            self.stats.files_ignored += 1;
            return;
        }
        let t = Instant::now();
        self.stats.files += 1;
        self.stats.bytes_compressed += data.len() as u64;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        // Largest inflated trail file read (CloudTrail files are a few MB; a larger one is an
        // error naming the file, not an out-of-memory kill).
        let limit = crate::limits::get().max_json_bytes;
        let text: &[u8] = if data.starts_with(&[0x1f, 0x8b]) {
            match crate::limits::read_bounded_into(
                flate2::read::MultiGzDecoder::new(data),
                limit,
                data.len().saturating_mul(8),
                &mut buf,
            ) {
                Ok(()) => {}
                Err(e) => {
                    let why = if crate::limits::is_over_limit(&e) {
                        format!("inflates to {e}")
                    } else {
                        format!("cannot inflate: {e}")
                    };
                    self.fail(name, why);
                    self.busy += t.elapsed();
                    return;
                }
            }
            &buf
        } else if data.len() > limit {
            self.fail(name, crate::limits::over_json(limit).to_string());
            self.busy += t.elapsed();
            return;
        } else {
            data
        };
        self.stats.bytes_inflated += text.len() as u64;
        if let Err(m) = self.read_records(name, text) {
            self.fail(name, m);
        }
        // Kept for the next file unless one huge file grew it.
        if buf.capacity() <= 64 << 20 {
            self.buf = buf;
        }
        self.busy += t.elapsed();
    }

    fn fail(&mut self, name: &str, message: String) {
        tracing::error!(file = name, "cloudtrail file failed: {message}");
        self.stats.failed_files += 1;
        if self.stats.errors.len() < 100 {
            self.stats.errors.push(format!("{name}: {message}"));
        }
    }

    fn read_records(&mut self, name: &str, text: &[u8]) -> Result<(), String> {
        // Needle hits found lazily with SIMD memmem (an aho-corasick pass was measured slower:
        // its rare-byte prefilter fires constantly on JSON); a record is parsed only when a hit
        // falls inside it, and splitting stops after the last hit.
        let mut hits = Hits::new(text);
        if hits.from(0).is_none() {
            return Ok(());
        }
        let start = memmem::find(text, b"\"Records\"")
            .ok_or_else(|| "no \"Records\" array (not a CloudTrail log file)".to_string())?;
        let mut i = start + b"\"Records\"".len();
        i = skip_ws(text, i);
        if text.get(i) != Some(&b':') {
            return Err("\"Records\" is not a key".into());
        }
        i = skip_ws(text, i + 1);
        if text.get(i) != Some(&b'[') {
            return Err("\"Records\" is not an array".into());
        }
        i += 1;
        let mut index = 0u64;
        loop {
            i = skip_ws(text, i);
            match text.get(i) {
                Some(b']') => return Ok(()),
                Some(b',') => {
                    i += 1;
                    continue;
                }
                Some(b'{') => {
                    let end = object_end(text, i)
                        .ok_or_else(|| format!("record {} is truncated", index + 1))?;
                    index += 1;
                    let rec = &text[i..end];
                    if hits.from(i).is_some_and(|h| h < end) {
                        self.stats.records_parsed += 1;
                        match serde_json::from_slice::<Value>(rec) {
                            Ok(v) => {
                                self.event(&v, "cloudtrail");
                            }
                            Err(e) => {
                                self.stats.malformed += 1;
                                tracing::warn!(
                                    file = name,
                                    record = index,
                                    "malformed CloudTrail record skipped: {e}"
                                );
                            }
                        }
                    }
                    i = end;
                    if hits.from(end).is_none() {
                        // No needle in the rest of the file: nothing more of ours in it.
                        return Ok(());
                    }
                }
                Some(_) => return Err(format!("unexpected byte after record {index}")),
                None => return Err(format!("truncated after record {index}")),
            }
        }
    }

    /// Applies one CloudTrail record (from a file, or the `detail` of an EventBridge event).
    /// Returns whether it was kept.
    pub fn event(&mut self, v: &Value, source: &str) -> bool {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let (Some(event_source), Some(name)) = (s("eventSource"), s("eventName")) else {
            return false;
        };
        let ec2 = event_source == "ec2.amazonaws.com";
        let sm = event_source == "sagemaker.amazonaws.com";
        let wanted =
            (ec2 && matches!(
                name,
                "CreateNetworkInterface"
                    | "DeleteNetworkInterface"
                    | "CreateNetworkInterfacePermission"
                    | "CreateTags"
                    | "DeleteTags"
            )) || (sm
                && (name.starts_with("Create")
                    || name.starts_with("Delete")
                    || name == "UpdateEndpoint"));
        if !wanted {
            return false;
        }
        let id = s("eventID").unwrap_or("").to_string();
        if v.get("errorCode").is_some_and(|e| !e.is_null())
            || get_path(v, &["requestParameters", "dryRun"]).and_then(Value::as_bool) == Some(true)
        {
            self.stats.failed_or_dry_run += 1;
            return false;
        }
        if !id.is_empty() && !self.seen.insert(id.clone()) {
            self.stats.duplicates += 1;
            return false;
        }
        let time = s("eventTime").and_then(crate::time::parse_rfc3339);
        let evidence = vec![LedgerEvidence {
            source: source.to_string(),
            id: id.clone(),
            time,
        }];
        let entries = if ec2 {
            ec2_entries(name, v, time, evidence)
        } else {
            sagemaker_entry(name, v, time, evidence)
                .into_iter()
                .collect()
        };
        if entries.is_empty() {
            self.stats.incomplete += 1;
            tracing::debug!(event = name, id = %id, "CloudTrail event without the fields it needs; ignored");
            return false;
        }
        self.stats.events_kept += 1;
        self.entries.extend(entries);
        true
    }
}

fn skip_ws(t: &[u8], mut i: usize) -> usize {
    while i < t.len() && matches!(t[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// End (exclusive) of the JSON object starting at `t[start] == b'{'`: braces counted outside
/// strings, escapes honoured. Works 64 bytes at a time (the simdjson idea without intrinsics:
/// per-byte masks the compiler vectorises, a prefix XOR of the quote mask for "inside a
/// string"), falling back to a byte loop for blocks with a backslash, and for the tail.
fn object_end(t: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut i = start;
    while i + 64 <= t.len() {
        let block: &[u8; 64] = t[i..i + 64].try_into().ok()?;
        let (q, bs, o, c) = masks(block);
        if bs != 0 || escaped {
            for (k, &b) in block.iter().enumerate() {
                if let Some(end) = step(b, &mut depth, &mut in_str, &mut escaped) {
                    return Some(i + k + end);
                }
            }
        } else {
            let inside = prefix_xor(q) ^ if in_str { !0 } else { 0 };
            let mut structural = (o | c) & !inside;
            while structural != 0 {
                let k = structural.trailing_zeros() as usize;
                if o >> k & 1 == 1 {
                    depth += 1;
                } else {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i + k + 1);
                    }
                }
                structural &= structural - 1;
            }
            in_str = inside >> 63 == 1;
        }
        i += 64;
    }
    for (k, &b) in t[i..].iter().enumerate() {
        if let Some(end) = step(b, &mut depth, &mut in_str, &mut escaped) {
            return Some(i + k + end);
        }
    }
    None
}

/// One byte of the scalar scanner; `Some(1)` when it closed the outermost object.
#[inline]
fn step(b: u8, depth: &mut usize, in_str: &mut bool, escaped: &mut bool) -> Option<usize> {
    if *in_str {
        if *escaped {
            *escaped = false;
        } else if b == b'\\' {
            *escaped = true;
        } else if b == b'"' {
            *in_str = false;
        }
        return None;
    }
    match b {
        b'"' => *in_str = true,
        b'{' => *depth += 1,
        b'}' => {
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                return Some(1);
            }
        }
        _ => {}
    }
    None
}

/// Bit k set where `block[k]` is a quote, a backslash, `{`, `}`: AVX2 compares when the CPU
/// has them (two 32-byte loads), else SSE2 (part of every x86_64 CPU; four 16-byte loads).
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above; the check is a cached load).
        unsafe { masks_avx2(block) }
    } else {
        masks_sse2(block)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn masks_avx2(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    // SAFETY: both loads read 32 bytes inside a 64-byte array; loadu needs no alignment.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
        )
    };
    let mut out = [0u64; 4];
    for (n, ch) in [b'"', b'\\', b'{', b'}'].into_iter().enumerate() {
        let c = _mm256_set1_epi8(ch as i8);
        let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32;
        let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32;
        out[n] = u64::from(l) | u64::from(h) << 32;
    }
    (out[0], out[1], out[2], out[3])
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn masks_sse2(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut out = [0u64; 4];
    for j in 0..4 {
        // SAFETY: SSE2 is enabled on every x86_64 target; the load reads bytes
        // j*16..j*16+16 of a 64-byte array and needs no alignment.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(j * 16).cast::<__m128i>());
            for (n, ch) in [b'"', b'\\', b'{', b'}'].into_iter().enumerate() {
                let m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(ch as i8)));
                out[n] |= u64::from(m as u16) << (j * 16);
            }
        }
    }
    (out[0], out[1], out[2], out[3])
}

/// Portable masks (other architectures; the compiler vectorises what it can).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    masks_portable(block)
}

#[cfg(any(test, not(target_arch = "x86_64")))]
fn masks_portable(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    let (mut q, mut bs, mut o, mut c) = (0u64, 0u64, 0u64, 0u64);
    for (k, &b) in block.iter().enumerate() {
        q |= u64::from(b == b'"') << k;
        bs |= u64::from(b == b'\\') << k;
        o |= u64::from(b == b'{') << k;
        c |= u64::from(b == b'}') << k;
    }
    (q, bs, o, c)
}

/// Bit k = XOR of bits 0..=k: set from an opening quote up to (not including) its closing one.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// A member by its CloudTrail (lowerCamel) name, or the API's PascalCase name.
fn member<'a>(v: &'a Value, camel: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| {
        let mut c = camel.chars();
        let first = c.next()?;
        let pascal: String = first.to_uppercase().chain(c).collect();
        v.get(pascal.as_str())
    })
}

fn str_of(v: &Value, camel: &str) -> Option<String> {
    member(v, camel).and_then(Value::as_str).map(str::to_string)
}

/// EC2 list wrappers: `{"items": [...]}`, `{"item": [...]}`, or a plain array.
fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => match o.get("items").or_else(|| o.get("item")) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(x @ Value::Object(_)) => vec![x],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn tags_of(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in ["tagSet", "tags"] {
        for t in items(v.get(key)) {
            if let (Some(k), Some(val)) = (str_of(t, "key"), str_of(t, "value")) {
                out.push((k, val));
            }
        }
    }
    out
}

fn created_by(v: &Value) -> Option<CreatedBy> {
    let u = v.get("userIdentity")?;
    let arn = str_of(u, "arn");
    Some(CreatedBy {
        principal_id: str_of(u, "principalId"),
        session_issuer_arn: get_path(u, &["sessionContext", "sessionIssuer", "arn"])
            .and_then(Value::as_str)
            .map(str::to_string),
        session_name: arn
            .as_deref()
            .filter(|a| a.contains(":assumed-role/"))
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_string),
        invoked_by: str_of(u, "invokedBy"),
        source_ip: v
            .get("sourceIPAddress")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn ec2_entries(
    name: &str,
    v: &Value,
    time: Option<i64>,
    evidence: Vec<LedgerEvidence>,
) -> Vec<Entry> {
    let req = v.get("requestParameters").unwrap_or(&Value::Null);
    let account = v
        .get("recipientAccountId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let region = v
        .get("awsRegion")
        .and_then(Value::as_str)
        .map(str::to_string);
    match name {
        "CreateNetworkInterface" => {
            let Some(ni) = get_path(v, &["responseElements", "networkInterface"]) else {
                return Vec::new();
            };
            let Some(eni) = str_of(ni, "networkInterfaceId") else {
                return Vec::new();
            };
            let mut ips: Vec<String> = str_of(ni, "privateIpAddress").into_iter().collect();
            for p in items(ni.get("privateIpAddressesSet")) {
                if let Some(ip) = str_of(p, "privateIpAddress") {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
            for p in items(ni.get("ipv6AddressesSet")) {
                if let Some(ip) = str_of(p, "ipv6Address") {
                    ips.push(ip);
                }
            }
            let mut tags: std::collections::BTreeMap<String, String> =
                tags_of(ni).into_iter().collect();
            for spec in items(req.get("tagSpecificationSet")) {
                for (k, val) in tags_of(spec) {
                    tags.entry(k).or_insert(val);
                }
            }
            // The response's groups are the effective ones (requests may log `{}`).
            let mut groups: Vec<String> = items(ni.get("groupSet"))
                .into_iter()
                .filter_map(|g| str_of(g, "groupId"))
                .collect();
            if groups.is_empty() {
                groups = items(req.get("groupSet"))
                    .into_iter()
                    .filter_map(|g| str_of(g, "groupId"))
                    .collect();
            }
            vec![Entry::Eni(EniLife {
                eni,
                account,
                region,
                vpc_id: str_of(ni, "vpcId"),
                subnet_id: str_of(ni, "subnetId").or_else(|| str_of(req, "subnetId")),
                az: str_of(ni, "availabilityZone"),
                private_ips: ips,
                security_groups: groups,
                description: str_of(ni, "description").or_else(|| str_of(req, "description")),
                tags,
                interface_type: str_of(ni, "interfaceType"),
                requester_id: str_of(ni, "requesterId"),
                requester_managed: member(ni, "requesterManaged").and_then(Value::as_bool),
                created_at: time,
                created_by: created_by(v),
                evidence,
                ..Default::default()
            })]
        }
        "DeleteNetworkInterface" => match str_of(req, "networkInterfaceId") {
            Some(eni) => vec![Entry::Eni(EniLife {
                eni,
                account,
                region,
                deleted_at: time,
                evidence,
                ..Default::default()
            })],
            None => Vec::new(),
        },
        "CreateNetworkInterfacePermission" => match str_of(req, "networkInterfaceId") {
            Some(eni) => vec![Entry::Eni(EniLife {
                eni,
                account,
                region,
                permission_account: str_of(req, "awsAccountId"),
                evidence,
                ..Default::default()
            })],
            None => Vec::new(),
        },
        "CreateTags" | "DeleteTags" => {
            let enis: Vec<String> = items(req.get("resourcesSet"))
                .into_iter()
                .filter_map(|r| str_of(r, "resourceId"))
                .filter(|r| r.starts_with("eni-"))
                .collect();
            let tags: std::collections::BTreeMap<String, String> = if name == "CreateTags" {
                tags_of(req).into_iter().collect()
            } else {
                Default::default()
            };
            enis.into_iter()
                .map(|eni| {
                    Entry::Eni(EniLife {
                        eni,
                        account: account.clone(),
                        region: region.clone(),
                        tags: tags.clone(),
                        evidence: evidence.clone(),
                        ..Default::default()
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

fn vpc_of(v: Option<&Value>) -> (Vec<String>, Vec<String>) {
    let Some(c) = v else {
        return (Vec::new(), Vec::new());
    };
    let list = |k: &str| -> Vec<String> {
        member(c, k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    (list("subnets"), list("securityGroupIds"))
}

/// Kind and name member of each SageMaker call we keep.
fn sagemaker_kind(event: &str) -> Option<(&'static str, &'static str)> {
    let subject = event
        .strip_prefix("Create")
        .or_else(|| event.strip_prefix("Delete"))
        .or_else(|| event.strip_prefix("Update"))?;
    Some(match subject {
        "TrainingJob" => ("training-job", "trainingJobName"),
        "ProcessingJob" => ("processing-job", "processingJobName"),
        "TransformJob" => ("transform-job", "transformJobName"),
        "HyperParameterTuningJob" => ("hyper-parameter-tuning-job", "hyperParameterTuningJobName"),
        "Model" => ("model", "modelName"),
        "EndpointConfig" => ("endpoint-config", "endpointConfigName"),
        "Endpoint" => ("endpoint", "endpointName"),
        "NotebookInstance" => ("notebook-instance", "notebookInstanceName"),
        _ => return None,
    })
}

fn sagemaker_entry(
    event: &str,
    v: &Value,
    time: Option<i64>,
    evidence: Vec<LedgerEvidence>,
) -> Option<Entry> {
    let (kind, name_key) = sagemaker_kind(event)?;
    let req = v.get("requestParameters")?;
    let name = str_of(req, name_key)?;
    let resp = v.get("responseElements").unwrap_or(&Value::Null);
    let arn = resp
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("Arn")))
        .and_then(|(_, a)| a.as_str())
        .map(str::to_string);
    let mut f = ResourceFact {
        kind: kind.to_string(),
        name,
        arn,
        evidence,
        ..Default::default()
    };
    if event.starts_with("Delete") {
        f.ended_at = time;
        return Some(Entry::Resource(f));
    }
    f.created_at = time;
    apply_config(&mut f, req);
    Some(Entry::Resource(f))
}

/// Fills a resource fact from a Create* request or a Describe-shaped event detail (both use
/// the API's member names, in lowerCamel or PascalCase).
fn apply_config(f: &mut ResourceFact, req: &Value) {
    let def = member(req, "trainingJobDefinition");
    let role = str_of(req, "roleArn")
        .or_else(|| str_of(req, "executionRoleArn"))
        .or_else(|| def.and_then(|d| str_of(d, "roleArn")));
    f.role_arn = role;
    let net = member(req, "networkConfig");
    let vpc = member(req, "vpcConfig")
        .or_else(|| net.and_then(|n| member(n, "vpcConfig")))
        .or_else(|| def.and_then(|d| member(d, "vpcConfig")));
    let (mut subnets, mut sgs) = vpc_of(vpc);
    if kind_is(f, "notebook-instance") {
        subnets = str_of(req, "subnetId").into_iter().collect();
        sgs = member(req, "securityGroupIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
    }
    f.subnets = subnets;
    f.security_groups = sgs;
    f.network_isolation = member(req, "enableNetworkIsolation")
        .or_else(|| net.and_then(|n| member(n, "enableNetworkIsolation")))
        .or_else(|| def.and_then(|d| member(d, "enableNetworkIsolation")))
        .and_then(Value::as_bool);
    f.instance_count = member(req, "resourceConfig")
        .or_else(|| member(req, "processingResources").and_then(|p| member(p, "clusterConfig")))
        .or_else(|| member(req, "transformResources"))
        .and_then(|r| member(r, "instanceCount"))
        .and_then(Value::as_u64)
        .map(|n| n as u32);
    f.parent = str_of(req, "tuningJobArn")
        .or_else(|| str_of(req, "modelName").filter(|_| kind_is(f, "transform-job")))
        .or_else(|| str_of(req, "endpointConfigName").filter(|_| kind_is(f, "endpoint")));
    if kind_is(f, "endpoint-config") {
        for pv in member(req, "productionVariants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(m) = str_of(pv, "modelName") {
                f.models.push(m);
            }
        }
    }
}

fn kind_is(f: &ResourceFact, k: &str) -> bool {
    f.kind == k
}

/// Times in SageMaker events: epoch milliseconds as a string or a number, or ISO 8601.
pub fn event_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|ms| (ms / 1000.0) as i64),
        Value::String(s) => match s.parse::<f64>() {
            Ok(ms) => Some((ms / 1000.0) as i64),
            Err(_) => crate::time::parse_rfc3339(s),
        },
        _ => None,
    }
}

/// A SageMaker state-change event (`source` `aws.sagemaker`) as a resource fact: job run
/// windows and VpcConfig, the same shape as the Describe output.
pub fn state_change(detail_type: &str, detail: &Value, id: &str) -> Option<ResourceFact> {
    let (kind, name_key, start_key, end_key) = match detail_type {
        "SageMaker Training Job State Change" => (
            "training-job",
            "TrainingJobName",
            "TrainingStartTime",
            "TrainingEndTime",
        ),
        "SageMaker Processing Job State Change" => (
            "processing-job",
            "ProcessingJobName",
            "ProcessingStartTime",
            "ProcessingEndTime",
        ),
        "SageMaker Transform Job State Change" => (
            "transform-job",
            "TransformJobName",
            "TransformStartTime",
            "TransformEndTime",
        ),
        "SageMaker HyperParameter Tuning Job State Change" => (
            "hyper-parameter-tuning-job",
            "HyperParameterTuningJobName",
            "CreationTime",
            "HyperParameterTuningEndTime",
        ),
        "SageMaker Endpoint State Change" => {
            ("endpoint", "EndpointName", "CreationTime", "__none__")
        }
        _ => return None,
    };
    let name = detail.get(name_key)?.as_str()?.to_string();
    let created = detail.get("CreationTime").and_then(event_time);
    let mut f = ResourceFact {
        kind: kind.to_string(),
        name,
        arn: detail
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.ends_with("JobArn") || *k == "EndpointArn")
            })
            .and_then(|(_, a)| a.as_str())
            .map(str::to_string),
        created_at: created,
        started_at: detail.get(start_key).and_then(event_time),
        ended_at: detail.get(end_key).and_then(event_time),
        evidence: vec![LedgerEvidence {
            source: "eventbridge".into(),
            id: id.to_string(),
            time: detail.get("LastModifiedTime").and_then(event_time),
        }],
        ..Default::default()
    };
    apply_config(&mut f, detail);
    Some(f)
}

#[cfg(test)]
mod tests {

    /// The byte-at-a-time scanner, as the reference for the 64-byte one.
    fn object_end_scalar(t: &[u8], start: usize) -> Option<usize> {
        let (mut depth, mut in_str, mut escaped) = (0, false, false);
        for (k, &b) in t[start..].iter().enumerate() {
            if let Some(e) = step(b, &mut depth, &mut in_str, &mut escaped) {
                return Some(start + k + e);
            }
        }
        None
    }

    #[test]
    fn simd_masks_equal_the_portable_ones() {
        let alphabet = b"\"\\{}ab :,[]";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = alphabet[(seed % alphabet.len() as u64) as usize];
            }
            let want = masks_portable(&block);
            assert_eq!(masks(&block), want);
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(masks_sse2(&block), want);
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 checked just above.
                    assert_eq!(unsafe { masks_avx2(&block) }, want);
                }
            }
        }
    }

    #[test]
    fn block_scanner_equals_the_byte_scanner() {
        // Braces and quotes inside strings, escaped quotes and backslashes, at every offset
        // around the 64-byte block boundaries, nested objects, truncation.
        let pieces = [
            r#""k":"v""#,
            r#""a{b}":"}{""#,
            r#""esc":"x\"y\\""#,
            r#""n":{"m":[{"x":1},{"y":"}"}]}"#,
            r#""long":"0123456789012345678901234567890123456789012345678901234567890123456789""#,
            r#""bs":"\\\\\"""#,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut rec = String::from("{");
            let n = 1 + (seed % 9) as usize;
            for k in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if k > 0 {
                    rec.push(',');
                }
                rec.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            rec.push('}');
            let pad = " ".repeat((seed % 70) as usize);
            let text = format!("{pad}{rec},{{\"next\":1}}");
            let start = pad.len();
            let want = object_end_scalar(text.as_bytes(), start);
            assert_eq!(want, Some(start + rec.len()), "{text}");
            assert_eq!(object_end(text.as_bytes(), start), want, "{text}");
            let cut = &text.as_bytes()[..start + rec.len() - 1];
            assert_eq!(object_end(cut, start), None, "truncated: {text}");
        }
    }

    use super::*;

    fn create(eni: &str, id: &str, extra: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.09","eventSource":"ec2.amazonaws.com","eventName":"CreateNetworkInterface","eventTime":"2026-10-03T14:15:00Z","eventID":"{id}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
            "userIdentity":{{"type":"AssumedRole","principalId":"AROAX:SageMaker","arn":"arn:aws:sts::111122223333:assumed-role/Exec/SageMaker","sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::111122223333:role/Exec"}}}},"invokedBy":"sagemaker.amazonaws.com"}},
            "requestParameters":{{"subnetId":"subnet-1","groupSet":{{}}{extra}}},
            "responseElements":{{"networkInterface":{{"networkInterfaceId":"{eni}","subnetId":"subnet-1","vpcId":"vpc-1","privateIpAddress":"10.0.0.5","groupSet":{{"items":[{{"groupId":"sg-1"}}]}},"description":"a \"quoted\" {{brace}} desc"}}}}}}"#
        )
    }

    #[test]
    fn reads_records_skips_dry_runs_failures_and_duplicates() {
        let dry = r#"{"eventSource":"ec2.amazonaws.com","eventName":"CreateNetworkInterface","eventID":"d","errorCode":"Client.DryRunOperation","requestParameters":{"dryRun":true}}"#;
        let other = r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"x"}"#;
        let file = format!(
            "{{\"Records\":[{},{},{dry},{other},{}]}}",
            create("eni-1", "a", ""),
            create("eni-1", "a", ""),
            create("eni-2", "b", ",\"tagSpecificationSet\":{\"items\":[{\"resourceType\":\"network-interface\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}]}")
        );
        let mut r = TrailReader::new();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, file.as_bytes()).unwrap();
        r.read_file(
            "AWSLogs/1/CloudTrail/us-east-1/2026/10/03/f.json.gz",
            &gz.finish().unwrap(),
        );
        assert_eq!(r.stats.events_kept, 2);
        assert_eq!(r.stats.duplicates, 1);
        assert_eq!(r.stats.failed_or_dry_run, 1);
        let Entry::Eni(l) = &r.entries[0] else {
            panic!()
        };
        assert_eq!(l.eni, "eni-1");
        assert_eq!(l.security_groups, ["sg-1"]);
        assert_eq!(l.description.as_deref(), Some("a \"quoted\" {brace} desc"));
        let by = l.created_by.as_ref().unwrap();
        assert_eq!(
            by.session_issuer_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/Exec")
        );
        assert_eq!(by.session_name.as_deref(), Some("SageMaker"));
        let Entry::Eni(l2) = &r.entries[1] else {
            panic!()
        };
        assert_eq!(l2.tags.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn truncated_and_foreign_files_fail_loudly() {
        let mut r = TrailReader::new();
        let file = format!("{{\"Records\":[{}", create("eni-1", "a", ""));
        r.read_file("t.json", &file.as_bytes()[..file.len() - 5]);
        assert_eq!(r.stats.failed_files, 1);
        r.read_file(
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/10/03/d.json.gz",
            b"{}",
        );
        assert_eq!(r.stats.files_ignored, 1);
        // No needle at all: nothing parsed, nothing failed.
        r.read_file("n.json", br#"{"Records":[{"eventName":"GetObject"}]}"#);
        assert_eq!(r.stats.failed_files, 1);
        assert_eq!(r.stats.records_parsed, 0);
    }

    #[test]
    fn sagemaker_calls_and_state_changes() {
        let ev: Value = serde_json::from_str(r#"{"eventSource":"sagemaker.amazonaws.com","eventName":"CreateTrainingJob","eventTime":"2026-10-03T14:14:00Z","eventID":"t1",
            "requestParameters":{"trainingJobName":"fraud-xgb-2026-10-03-1414","roleArn":"arn:aws:iam::1:role/Exec","vpcConfig":{"subnets":["subnet-1"],"securityGroupIds":["sg-1"]},"resourceConfig":{"instanceCount":2}},
            "responseElements":{"trainingJobArn":"arn:aws:sagemaker:us-east-1:1:training-job/fraud-xgb-2026-10-03-1414"}}"#).unwrap();
        let mut r = TrailReader::new();
        assert!(r.event(&ev, "cloudtrail"));
        let Entry::Resource(f) = &r.entries[0] else {
            panic!()
        };
        assert_eq!(
            (f.kind.as_str(), f.instance_count),
            ("training-job", Some(2))
        );
        assert_eq!(f.subnets, ["subnet-1"]);
        let detail: Value = serde_json::from_str(r#"{"TrainingJobName":"j","TrainingJobArn":"arn:j","RoleArn":"arn:r","VpcConfig":{"Subnets":["subnet-9"],"SecurityGroupIds":["sg-9"]},"CreationTime":"1759500000000","TrainingStartTime":1759500060000,"TrainingEndTime":"2025-10-03T14:30:00Z"}"#).unwrap();
        let f = state_change("SageMaker Training Job State Change", &detail, "e1").unwrap();
        assert_eq!(f.created_at, Some(1_759_500_000));
        assert_eq!(f.started_at, Some(1_759_500_060));
        assert!(f.ended_at.is_some());
        assert_eq!(f.subnets, ["subnet-9"]);
        assert_eq!(f.role_arn.as_deref(), Some("arn:r"));
    }

    #[test]
    fn key_dates() {
        assert_eq!(
            key_day("p/AWSLogs/o-abc/1/CloudTrail/us-east-1/2026/10/03/f.json.gz"),
            crate::time::parse_rfc3339("2026-10-03T00:00:00Z")
        );
        assert_eq!(key_day("x/y"), None);
    }
}
