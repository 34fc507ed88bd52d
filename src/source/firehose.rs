//! Objects Kinesis Data Firehose writes to S3 (CloudWatch Logs subscription payloads, or flow
//! logs sent straight to the delivery stream): `[PREFIX/]YYYY/MM/DD/HH/<stream>-<version>-
//! YYYY-MM-DD-HH-MM-SS-<id>`, hours in UTC.

use super::layout::{KeyInfo, ReplayQuery};
use crate::time::format_rfc3339;

/// Firehose buffers records for up to 900 s before writing; the hour partition is the
/// delivery's. Listing covers an hour before the range, objects are kept up to 15 minutes after.
const BEFORE_SECS: i64 = 3600;
const AFTER_SECS: i64 = 900;

/// One prefix per UTC hour of the range (and the margins).
pub fn list_prefixes(q: &ReplayQuery) -> Vec<String> {
    let p = q.prefix.trim_matches('/');
    let base = if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    };
    let mut out = Vec::new();
    let mut t = (q.start - BEFORE_SECS).div_euclid(3600) * 3600;
    while t < q.end + AFTER_SECS {
        let s = format_rfc3339(t);
        out.push(format!(
            "{base}{}/{}/{}/{}/",
            &s[0..4],
            &s[5..7],
            &s[8..10],
            &s[11..13]
        ));
        t += 3600;
    }
    out
}

/// The delivery time in a Firehose object name (account and region are not in the key).
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let name = key.rsplit('/').next()?;
    let stream = crate::decode::cwlogs::firehose_stream_name(name)?;
    // <stream>-<version>-YYYY-MM-DD-HH-MM-SS-...
    let rest = &name[stream.len() + 1..];
    let p: Vec<&str> = rest.split('-').collect();
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        p.get(1)?,
        p.get(2)?,
        p.get(3)?,
        p.get(4)?,
        p.get(5)?,
        p.get(6)?
    );
    Some(KeyInfo {
        account: String::new(),
        region: String::new(),
        flow_log_id: String::new(),
        time: crate::time::parse_rfc3339(&text)?,
        parquet: false,
    })
}

pub fn in_range(info: &KeyInfo, q: &ReplayQuery) -> bool {
    info.time + BEFORE_SECS > q.start && info.time < q.end + AFTER_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_names() {
        let q = ReplayQuery {
            prefix: "cwl/".into(),
            accounts: vec![],
            regions: vec![],
            start: crate::time::parse_rfc3339("2026-11-20T09:30:00Z").unwrap(),
            end: crate::time::parse_rfc3339("2026-11-20T10:00:00Z").unwrap(),
            flow_log_id: None,
        };
        assert_eq!(
            list_prefixes(&q),
            [
                "cwl/2026/11/20/08/",
                "cwl/2026/11/20/09/",
                "cwl/2026/11/20/10/"
            ]
        );
        let k =
            parse_key("cwl/2026/11/20/09/vpc-to-s3-1-2026-11-20-09-41-07-5f1e2d3c-aaaa").unwrap();
        assert_eq!(format_rfc3339(k.time), "2026-11-20T09:41:07Z");
        assert!(in_range(&k, &q));
        let late = parse_key("cwl/2026/11/20/10/vpc-to-s3-1-2026-11-20-10-20-00-x").unwrap();
        assert!(!in_range(&late, &q));
        assert!(parse_key("AWSLogs/1/x.log.gz").is_none());
    }
}
