//! Syslog: RFC 5424 messages, RFC 6587/5425 octet-counting frames, and ArcSight CEF
//! (siem.md §6).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v" ...] MSG` where PRI =
//! facility × 8 + severity, TIMESTAMP is the emission time (the context's now), the SD element
//! carries the finding id, rule, severity, ENI and destination (values escaped: `"`, `\`, `]`),
//! and MSG is the finding as compact JSON or as a CEF line. A frame is `LEN SP MSG` with LEN
//! the message's length in octets (UTF-8 bytes, not characters).

use super::{
    finding_time_ms, format_rfc3339_ms, is_ipv6, rfc3339_to_ms, truncate_chars, FormatContext,
    PRODUCT, VENDOR,
};
use crate::detect::{Finding, Severity};

/// Syslog facilities (RFC 5424 §6.2.1) commonly used for security alerts.
pub mod facility {
    pub const USER: u8 = 1;
    pub const AUTH: u8 = 4;
    pub const AUTHPRIV: u8 = 10;
    pub const LOG_AUDIT: u8 = 13;
    pub const LOG_ALERT: u8 = 14;
    pub const LOCAL0: u8 = 16;
    pub const LOCAL4: u8 = 20;
    pub const LOCAL7: u8 = 23;
}

/// What MSG carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Payload {
    /// The finding as compact JSON (the JSONL contract).
    #[default]
    Json,
    /// An ArcSight CEF line ([`cef`]).
    Cef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogOptions {
    /// 0..=23 (values above are clamped to 23).
    pub facility: u8,
    pub app_name: String,
    /// PROCID; `None` writes the NILVALUE `-`.
    pub procid: Option<String>,
    pub msgid: String,
    /// SD-ID of the element with the finding's keys (`name@PEN`).
    pub sd_id: String,
    pub payload: Payload,
    /// Start MSG with the UTF-8 BOM (RFC 5424 MSG-UTF8). Off by default: many receivers keep
    /// the BOM in the message text, which breaks JSON parsing downstream.
    pub bom: bool,
}

impl Default for SyslogOptions {
    fn default() -> Self {
        Self {
            facility: facility::LOCAL4,
            app_name: PRODUCT.to_string(),
            procid: None,
            msgid: "FINDING".to_string(),
            // 32473 is the Private Enterprise Number reserved for documentation (RFC 5612).
            sd_id: "egresswatch@32473".to_string(),
            payload: Payload::Json,
            bom: false,
        }
    }
}

/// Syslog severity for a finding severity: critical 2 (crit), high 3 (err), medium 4
/// (warning), low 5 (notice), info 6 (informational).
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// PRIVAL = facility × 8 + severity.
pub fn prival(facility: u8, severity: u8) -> u8 {
    facility.min(23) * 8 + severity.min(7)
}

/// Appends a header field: printable US-ASCII only (others become `_`), at most `max`
/// characters, `-` when empty.
fn push_header_field(out: &mut String, value: &str, max: usize) {
    let start = out.len();
    for c in value.chars().take(max) {
        out.push(if ('!'..='~').contains(&c) { c } else { '_' });
    }
    if out.len() == start {
        out.push('-');
    }
}

/// Appends an SD-NAME (SD-ID or PARAM-NAME): printable US-ASCII except `=`, SP, `]`, `"`;
/// at most 32 characters.
fn push_sd_name(out: &mut String, name: &str) {
    let start = out.len();
    for c in name.chars().take(32) {
        out.push(
            if ('!'..='~').contains(&c) && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            },
        );
    }
    if out.len() == start {
        out.push('_');
    }
}

/// Appends a PARAM-VALUE with `"`, `\` and `]` escaped by a backslash (RFC 5424 §6.3.3).
pub fn escape_sd_value(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Appends a structured-data element `[SD-ID name="value" ...]`.
pub fn push_sd_element(out: &mut String, sd_id: &str, params: &[(&str, &str)]) {
    out.push('[');
    push_sd_name(out, sd_id);
    for (k, v) in params {
        out.push(' ');
        push_sd_name(out, k);
        out.push_str("=\"");
        escape_sd_value(out, v);
        out.push('"');
    }
    out.push(']');
}

/// The RFC 5424 SYSLOG-MSG for `f` (no framing, no trailing newline).
pub fn message(f: &Finding, ctx: &FormatContext, opts: &SyslogOptions) -> String {
    let mut out = String::with_capacity(1536);
    out.push('<');
    out.push_str(&prival(opts.facility, syslog_severity(f.severity)).to_string());
    out.push_str(">1 ");
    out.push_str(&format_rfc3339_ms(ctx.now_ms));
    out.push(' ');
    push_header_field(&mut out, &ctx.hostname, 255);
    out.push(' ');
    push_header_field(&mut out, &opts.app_name, 48);
    out.push(' ');
    push_header_field(&mut out, opts.procid.as_deref().unwrap_or("-"), 128);
    out.push(' ');
    push_header_field(&mut out, &opts.msgid, 32);
    out.push(' ');
    let port = f.dst_port.map(|p| p.to_string());
    let revision = f.revision.to_string();
    let resource = f
        .resource
        .as_ref()
        .map(|r| r.arn.as_deref().unwrap_or(&r.name));
    let mut params: Vec<(&str, &str)> = vec![
        ("id", &f.id),
        ("rule", &f.rule),
        ("severity", f.severity.as_str()),
        ("category", &f.category),
        ("control", &f.control),
        ("eni", &f.eni),
        ("dst", f.dst()),
    ];
    if let Some(p) = &port {
        params.push(("dport", p));
    }
    params.push(("path", &f.path));
    if let Some(r) = resource {
        params.push(("resource", r));
    }
    params.push(("activity", f.activity.as_str()));
    params.push(("revision", &revision));
    push_sd_element(&mut out, &opts.sd_id, &params);
    out.push(' ');
    if opts.bom {
        out.push('\u{feff}');
    }
    match opts.payload {
        Payload::Json => {
            out.push_str(&serde_json::to_string(f).expect("findings always serialize"));
        }
        Payload::Cef => out.push_str(&cef(f, ctx)),
    }
    out
}

/// RFC 6587 §3.4.1 / RFC 5425 §4.3 octet counting: `MSG-LEN SP SYSLOG-MSG`.
pub fn frame(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 8);
    out.push_str(&msg.len().to_string());
    out.push(' ');
    out.push_str(msg);
    out
}

/// [`message`] in an octet-counting frame, ready to write to a TCP or TLS stream.
pub fn framed(f: &Finding, ctx: &FormatContext, opts: &SyslogOptions) -> String {
    frame(&message(f, ctx, opts))
}

/// CEF severity 0–10 for a finding severity: info 1, low 3, medium 5, high 8, critical 10.
pub fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// Appends a CEF header field: `\` → `\\`, `|` → `\|`; line breaks (not allowed in the
/// header) become spaces.
pub fn escape_cef_header(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Appends a CEF extension value: `\` → `\\`, `=` → `\=`, CR LF or LF → `\n`, CR → `\r`
/// (pipes are not escaped in the extension).
pub fn escape_cef_value(out: &mut String, value: &str) {
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                out.push_str("\\n");
            }
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A CEF floating-point value: finite, plain decimal (non-finite values are written as 0).
fn cef_float(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        "0".to_string()
    }
}

/// `CEF:0|egresswatch|egresswatch|VERSION|RULE|TITLE|SEVERITY|extension`.
///
/// Extension keys: `rt` (last seen, ms), `start`/`end` (first/last seen, ms), `src`/`dst`
/// (IPv4; IPv6 goes to `c6a2`/`c6a3`), `dpt`, `proto`, `out` (bytes the workload sent; flow
/// logs of the source ENI give no inbound bytes for the finding, so there is no `in`), `cnt`
/// (flows), `deviceDirection=1` (outbound), `cat` (category), `cs1` ENI, `cs2` resource ARN,
/// `cs3` control, `cs4` path, `cs5` VPC, `cs6` destination service (each with its `csNLabel`),
/// `cn1` revision (1 when first raised), `flexString1` activity (`new`/`update`),
/// `flexString2` the destination class of an anomaly (a class-level anomaly has no `dst`), for
/// anomaly findings `cfp1` observed, `cfp2` baseline, `cfp3` threshold, `cfp4` score (labels
/// name the unit), `dvchost`, `externalId` (the finding id), `msg` (the description).
pub fn cef(f: &Finding, ctx: &FormatContext) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("CEF:0|");
    escape_cef_header(&mut out, VENDOR);
    out.push('|');
    escape_cef_header(&mut out, PRODUCT);
    out.push('|');
    escape_cef_header(&mut out, &truncate_chars(&ctx.product_version, 31));
    out.push('|');
    escape_cef_header(&mut out, &truncate_chars(&f.rule, 1023));
    out.push('|');
    escape_cef_header(&mut out, &truncate_chars(&f.title, 512));
    out.push('|');
    out.push_str(&cef_severity(f.severity).to_string());
    out.push('|');

    let mut first = true;
    let mut kv = |k: &str, v: &str| {
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(k);
        out.push('=');
        escape_cef_value(&mut out, v);
    };
    let rt = finding_time_ms(f).unwrap_or(ctx.now_ms);
    kv("rt", &rt.to_string());
    if let Some(ms) = rfc3339_to_ms(f.first_seen.as_deref()) {
        kv("start", &ms.to_string());
    }
    if let Some(ms) = rfc3339_to_ms(f.last_seen.as_deref()) {
        kv("end", &ms.to_string());
    }
    if let Some(src) = f.src_ip.as_deref() {
        if is_ipv6(src) {
            kv("c6a2", src);
            kv("c6a2Label", "Source IPv6 Address");
        } else {
            kv("src", src);
        }
    }
    match f.dst_ip.as_deref().filter(|ip| !ip.is_empty()) {
        Some(ip) if is_ipv6(ip) => {
            kv("c6a3", ip);
            kv("c6a3Label", "Destination IPv6 Address");
        }
        Some(ip) => kv("dst", ip),
        None => {}
    }
    if let Some(p) = f.dst_port {
        kv("dpt", &p.to_string());
    }
    kv("proto", &f.protocol_name.to_ascii_uppercase());
    kv("out", &f.bytes.to_string());
    kv("cnt", &f.flows.to_string());
    kv("deviceDirection", "1");
    kv("cat", &f.category);
    kv("cs1Label", "eni");
    kv("cs1", &f.eni);
    if let Some(r) = &f.resource {
        kv("cs2Label", "resourceArn");
        kv("cs2", r.arn.as_deref().unwrap_or(&r.name));
    }
    kv("cs3Label", "control");
    kv("cs3", &f.control);
    kv("cs4Label", "path");
    kv("cs4", &f.path);
    if let Some(v) = f.vpc_id.as_deref() {
        kv("cs5Label", "vpcId");
        kv("cs5", v);
    }
    if let Some(s) = f.dst_service.as_deref() {
        kv("cs6Label", "dstService");
        kv("cs6", s);
    }
    kv("cn1Label", "revision");
    kv("cn1", &f.revision.to_string());
    kv("flexString1Label", "activity");
    kv("flexString1", f.activity.as_str());
    if let Some(c) = f.dst_class.as_deref().filter(|c| !c.is_empty()) {
        kv("flexString2Label", "dstClass");
        kv("flexString2", c);
    }
    if let Some(a) = &f.anomaly {
        for (n, name, v) in [
            (1, "observed", a.observed),
            (2, "baseline", a.baseline),
            (3, "threshold", a.threshold),
        ] {
            kv(&format!("cfp{n}Label"), &format!("{name} {}", a.unit));
            kv(&format!("cfp{n}"), &cef_float(v));
        }
        kv("cfp4Label", "score");
        kv("cfp4", &cef_float(a.score));
    }
    kv("dvchost", &ctx.hostname);
    kv("externalId", &f.id);
    kv("msg", &truncate_chars(&f.description, 1023));
    out
}
