//! Splunk HTTP Event Collector (siem.md §4): batched envelopes for
//! `POST /services/collector/event`, and the HEC and indexer-ack (`/services/collector/ack`)
//! responses.
//!
//! A batch is envelopes concatenated one per line (no array):
//! `{"time":1763629498.000,"host":..,"source":"egresswatch","sourcetype":..,"index":..,
//! "fields":{"finding_id":..,..},"event":{...}}`. Splunk does not de-duplicate: the finding id is
//! in the event and in the indexed `fields` so searches can `dedup finding_id` (with the
//! finding's `revision` indexed too: later revisions of an anomaly finding share its id).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{finding_time_ms, ocsf, Delivery, FormatContext, FormatError, PRODUCT};
use crate::detect::Finding;

/// What `event` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventPayload {
    /// The finding as in the JSONL contract (default sourcetype `egresswatch:finding`).
    #[default]
    Finding,
    /// The OCSF Detection Finding (default sourcetype `ocsf:detection_finding`).
    Ocsf(ocsf::Activity),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HecOptions {
    /// `index` (must be allowed for the token); omitted when `None`.
    pub index: Option<String>,
    /// `sourcetype`; `None` picks the payload's default.
    pub sourcetype: Option<String>,
    pub payload: EventPayload,
}

#[derive(Serialize)]
struct Fields<'a> {
    finding_id: &'a str,
    rule: &'a str,
    severity: &'static str,
    eni: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_account: Option<&'a str>,
    /// The finding's revision, so searches can keep the latest (`dedup finding_id sortby
    /// -revision`).
    revision: u32,
}

/// `epoch seconds.milliseconds`, e.g. `1763629498.123` (negative times clamp to 0).
pub fn epoch_seconds(ms: i64) -> String {
    let ms = ms.max(0);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Appends one envelope (no trailing newline) for `f`.
pub fn push_event(out: &mut Vec<u8>, f: &Finding, ctx: &FormatContext, opts: &HecOptions) {
    let sourcetype = opts.sourcetype.as_deref().unwrap_or(match opts.payload {
        EventPayload::Finding => "egresswatch:finding",
        EventPayload::Ocsf(_) => "ocsf:detection_finding",
    });
    out.extend_from_slice(b"{\"time\":");
    out.extend_from_slice(epoch_seconds(finding_time_ms(f).unwrap_or(ctx.now_ms)).as_bytes());
    out.extend_from_slice(b",\"host\":");
    json(out, ctx.hostname.as_str());
    out.extend_from_slice(b",\"source\":");
    json(out, PRODUCT);
    out.extend_from_slice(b",\"sourcetype\":");
    json(out, sourcetype);
    if let Some(index) = opts.index.as_deref() {
        out.extend_from_slice(b",\"index\":");
        json(out, index);
    }
    out.extend_from_slice(b",\"fields\":");
    json(
        out,
        &Fields {
            finding_id: &f.id,
            rule: &f.rule,
            severity: f.severity.as_str(),
            eni: &f.eni,
            aws_account: ctx.account_for(f),
            revision: f.revision,
        },
    );
    out.extend_from_slice(b",\"event\":");
    match opts.payload {
        EventPayload::Finding => json(out, f),
        EventPayload::Ocsf(activity) => json(out, &ocsf::detection_finding(f, ctx, activity)),
    }
    out.push(b'}');
}

/// One envelope for `f`.
pub fn event(f: &Finding, ctx: &FormatContext, opts: &HecOptions) -> String {
    let mut out = Vec::with_capacity(2048);
    push_event(&mut out, f, ctx, opts);
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A batch body for `/services/collector/event`: one envelope per finding, each followed by
/// `\n`.
pub fn batch(findings: &[Finding], ctx: &FormatContext, opts: &HecOptions) -> String {
    let mut out = Vec::with_capacity(findings.len() * 2048);
    for f in findings {
        push_event(&mut out, f, ctx, opts);
        out.push(b'\n');
    }
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    serde_json::to_writer(out, v).expect("HEC envelopes always serialize");
}

/// A parsed `/services/collector/event` (or `/raw`, `/health`) response.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HecResponse {
    #[serde(default)]
    pub text: String,
    pub code: i64,
    /// With indexer acknowledgment: the id of the whole request on its channel.
    #[serde(rename = "ackId", default)]
    pub ack_id: Option<u64>,
    /// Code 6 (invalid data format): the index of the offending envelope in the batch.
    #[serde(rename = "invalid-event-number", default)]
    pub invalid_event_number: Option<u64>,
}

impl HecResponse {
    pub fn is_success(&self) -> bool {
        self.code == 0
    }
}

/// Parses a HEC response body.
pub fn parse_response(body: &[u8]) -> Result<HecResponse, FormatError> {
    Ok(serde_json::from_slice(body)?)
}

/// Triage of a HEC response by HTTP status and HEC code: code 0 ok; 429, 5xx except 501 and
/// codes 8, 9, 18–20, 23, 26, 27 retryable; everything else (token, index, channel, data
/// format) permanent.
pub fn classify(status: u16, code: Option<i64>) -> Delivery {
    match code {
        Some(0) if (200..300).contains(&status) => Delivery::Ok,
        Some(8 | 9 | 18..=20 | 23 | 26 | 27) => Delivery::Retryable,
        Some(c) if c != 0 && (200..300).contains(&status) => Delivery::Permanent,
        _ => super::classify_http_status(status),
    }
}

/// The body of an indexer-ack query: `{"acks":[0,1,2]}`.
pub fn ack_request(ack_ids: &[u64]) -> String {
    #[derive(Serialize)]
    struct Req<'a> {
        acks: &'a [u64],
    }
    serde_json::to_string(&Req { acks: ack_ids }).expect("ack requests always serialize")
}

/// Parses an indexer-ack response `{"acks":{"0":true,"1":false}}` into ackId → indexed.
pub fn parse_ack_response(body: &[u8]) -> Result<BTreeMap<u64, bool>, FormatError> {
    #[derive(Deserialize)]
    struct Resp {
        acks: BTreeMap<String, bool>,
    }
    let resp: Resp = serde_json::from_slice(body)?;
    resp.acks
        .into_iter()
        .map(|(k, v)| {
            k.parse::<u64>()
                .map(|id| (id, v))
                .map_err(|_| FormatError::Shape(format!("ack id {k:?} is not a number")))
        })
        .collect()
}
