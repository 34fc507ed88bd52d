//! `inventory collect --history 90d` without a trail bucket: CloudTrail's LookupEvents API,
//! which keeps 90 days of management events per region. One lookup attribute per call (the
//! API's rule), so each ENI call name and the SageMaker event source are looked up in turn,
//! through every page, at most two requests per second (the API's limit per account and
//! region); throttling answers are retried after a growing pause. Each event's
//! `CloudTrailEvent` is the same record a trail file holds, so it goes through the same reader
//! (DryRun and failed calls dropped, de-duplicated by eventID).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cloudtrail::TrailReader;
use super::collect::{CollectError, Collector};

/// (attribute key, value) of each lookup.
pub const LOOKUPS: [(&str, &str); 6] = [
    ("EventName", "CreateNetworkInterface"),
    ("EventName", "DeleteNetworkInterface"),
    ("EventName", "CreateNetworkInterfacePermission"),
    ("EventName", "CreateTags"),
    ("EventName", "DeleteTags"),
    ("EventSource", "sagemaker.amazonaws.com"),
];

/// LookupEvents allows 2 requests per second per account and region.
pub const DEFAULT_PACE: Duration = Duration::from_millis(500);

const MAX_RETRIES: u32 = 6;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LookupStats {
    pub requests: u64,
    pub throttled: u64,
    pub events: u64,
    /// Events whose `CloudTrailEvent` was not a JSON record (counted, logged, skipped).
    pub malformed: u64,
}

/// Looks up every event of [`LOOKUPS`] between `start` and `end` (Unix seconds) into `reader`.
pub fn lookup_history(
    c: &Collector,
    start: i64,
    end: i64,
    pace: Duration,
    reader: &mut TrailReader,
) -> Result<LookupStats, CollectError> {
    let mut st = LookupStats::default();
    let mut last: Option<Instant> = None;
    for (key, value) in LOOKUPS {
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}],
                "StartTime": start,
                "EndTime": end,
                "MaxResults": 50,
            });
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let mut attempt = 0;
            let page = loop {
                if let Some(t) = last {
                    if let Some(wait) = pace.checked_sub(t.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                last = Some(Instant::now());
                st.requests += 1;
                match c.cloudtrail("LookupEvents", &body) {
                    Ok(p) => break p,
                    Err(e) if is_throttling(&e) && attempt < MAX_RETRIES => {
                        st.throttled += 1;
                        attempt += 1;
                        let backoff = pace * 2u32.pow(attempt);
                        tracing::warn!(
                            lookup = value,
                            attempt,
                            "LookupEvents throttled; retrying in {backoff:?}"
                        );
                        std::thread::sleep(backoff);
                    }
                    Err(e) => return Err(e),
                }
            };
            for ev in page
                .get("Events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                st.events += 1;
                let record = ev
                    .get("CloudTrailEvent")
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str::<Value>(s).ok());
                match record {
                    Some(r) => {
                        reader.event(&r, "cloudtrail");
                    }
                    None => {
                        st.malformed += 1;
                        let id = ev.get("EventId").and_then(|v| v.as_str()).unwrap_or("-");
                        tracing::warn!(
                            event = id,
                            "LookupEvents event without a readable CloudTrailEvent; skipped"
                        );
                    }
                }
            }
            match page.get("NextToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(st)
}

fn is_throttling(e: &CollectError) -> bool {
    let s = e.to_string();
    s.contains("ThrottlingException") || s.contains("HTTP 429") || s.contains("HTTP 503")
}
