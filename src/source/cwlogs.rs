//! CloudWatch Logs as a Lambda source: subscription events (`awslogs.data` = base64 of gzip of
//! the JSON envelope) and Kinesis Data Streams records carrying the same payload, turned into
//! inputs named after the log group, stream and first event id (`GROUP/STREAM#EVENTID`; the
//! evidence `line` is then the event's position in that envelope, 1-based).

use base64::Engine as _;
use serde_json::Value;

use crate::decode::Input;

/// One unit to acknowledge: its id (Kinesis sequence number; empty for a subscription event)
/// and its input, `None` for a control message, or why it could not be read.
pub type Unit = (String, Result<Option<Input>, String>);

#[derive(Debug)]
pub struct LogsEvent {
    /// Kinesis batches report failures per record; a subscription event fails as a whole.
    pub kinesis: bool,
    pub units: Vec<Unit>,
}

/// base64 -> (gunzip if gzip) -> an input holding the envelope JSON.
fn payload(b64: &str) -> Result<Option<Input>, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("payload is not base64: {e}"))?;
    let limit = crate::limits::get().max_json_bytes;
    let json = if raw.starts_with(&[0x1f, 0x8b]) {
        // A payload of a few KB can inflate to gigabytes: bounded, with a clear error.
        crate::limits::read_bounded(
            flate2::read::MultiGzDecoder::new(&raw[..]),
            limit,
            raw.len().saturating_mul(8),
        )
        .map_err(|e| {
            if crate::limits::is_over_limit(&e) {
                format!("payload inflates to {e}")
            } else {
                format!("payload is not valid gzip: {e}")
            }
        })?
    } else if raw.len() > limit {
        return Err(format!("payload is {}", crate::limits::over_json(limit)));
    } else {
        raw
    };
    if crate::decode::cwlogs::is_control(&json) {
        tracing::debug!("CloudWatch Logs control message skipped");
        return Ok(None);
    }
    let name = crate::decode::cwlogs::envelope_name(&json)
        .ok_or_else(|| "payload is not a CloudWatch Logs envelope".to_string())?;
    Ok(Some(Input::Memory {
        name,
        data: json.into(),
    }))
}

/// `Some` for a subscription event or a Kinesis batch; `None` for any other event.
pub fn parse_lambda_event(v: &Value) -> Option<LogsEvent> {
    if let Some(data) = v.pointer("/awslogs/data") {
        let unit = match data.as_str() {
            Some(d) => payload(d),
            None => Err("awslogs.data is not a string".into()),
        };
        return Some(LogsEvent {
            kinesis: false,
            units: vec![(String::new(), unit)],
        });
    }
    let records = v.get("Records")?.as_array()?;
    if records.first()?.get("eventSource")?.as_str()? != "aws:kinesis" {
        return None;
    }
    let units = records
        .iter()
        .map(|r| {
            let id = r
                .pointer("/kinesis/sequenceNumber")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let unit = match r.pointer("/kinesis/data").and_then(Value::as_str) {
                Some(d) => payload(d),
                None => Err("Kinesis record without data".into()),
            };
            (id, unit)
        })
        .collect();
    Some(LogsEvent {
        kinesis: true,
        units,
    })
}
