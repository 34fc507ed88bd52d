//! Amazon Security Lake as a source: its S3 layout for VPC flow logs
//! (`aws/VPC_FLOW/<source version>/region=R/accountId=A/eventDay=YYYYMMDD/<hex>.gz.parquet`)
//! and its subscriber notifications (EventBridge-shaped S3 "Object Created" events, which may
//! come without `detail-type`).

use serde_json::Value;

use super::layout::{KeyInfo, ReplayQuery};
use super::notification::{NotificationError, ObjectRef, Parsed};
use crate::time::format_rfc3339;

/// Source versions Security Lake stores VPC flow logs under (1.0 = OCSF 1.0.0-rc.2, 2.0 = 1.1.0).
pub const VERSIONS: &[&str] = &["1.0", "2.0"];

/// Partitions are by the records' event day; one day of margin before the range covers records
/// that started before it and ended inside.
const MARGIN_SECS: i64 = 86_400;

/// The prefixes to list: every source version, account, region and event day of the range.
pub fn list_prefixes(q: &ReplayQuery) -> Vec<String> {
    let p = q.prefix.trim_matches('/');
    let base = if p.is_empty() {
        "aws/VPC_FLOW/".to_string()
    } else {
        format!("{p}/aws/VPC_FLOW/")
    };
    let mut out = Vec::new();
    let mut t = (q.start - MARGIN_SECS).div_euclid(86_400) * 86_400;
    while t < q.end {
        let s = format_rfc3339(t);
        let day = format!("{}{}{}", &s[0..4], &s[5..7], &s[8..10]);
        for v in VERSIONS {
            for acct in &q.accounts {
                for region in &q.regions {
                    out.push(format!(
                        "{base}{v}/region={region}/accountId={acct}/eventDay={day}/"
                    ));
                }
            }
        }
        t += 86_400;
    }
    out
}

/// Account, region and event day (as `time`, midnight UTC) of a Security Lake VPC flow key.
/// The flow log id is not in the key (Security Lake collects its own stream): empty.
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let rest = &key[key.find("aws/VPC_FLOW/")? + "aws/VPC_FLOW/".len()..];
    let mut parts = rest.split('/');
    let _version = parts.next()?;
    let region = parts.next()?.strip_prefix("region=")?;
    let account = parts.next()?.strip_prefix("accountId=")?;
    let day = parts.next()?.strip_prefix("eventDay=")?;
    let name = parts.next()?;
    if day.len() != 8 || !day.bytes().all(|c| c.is_ascii_digit()) || !name.ends_with(".parquet") {
        return None;
    }
    let time = crate::time::parse_rfc3339(&format!(
        "{}-{}-{}T00:00:00Z",
        &day[0..4],
        &day[4..6],
        &day[6..8]
    ))?;
    Some(KeyInfo {
        account: account.to_string(),
        region: region.to_string(),
        flow_log_id: String::new(),
        time,
        parquet: true,
    })
}

/// Whether an object's event day overlaps the range (its account and region match). Records
/// outside the range inside a kept day are still read: a day is the finest the key says.
pub fn in_range(info: &KeyInfo, q: &ReplayQuery) -> bool {
    info.time + 86_400 > q.start - MARGIN_SECS
        && info.time < q.end
        && (q.accounts.is_empty() || q.accounts.contains(&info.account))
        && (q.regions.is_empty() || q.regions.contains(&info.region))
}

/// A subscriber notification: `detail.bucket.name` and `detail.object.key` of an `aws.s3`
/// event without `detail-type` (Security Lake's queue messages). `None` if it is not one.
pub fn parse_notification(v: &Value) -> Option<Result<Parsed, NotificationError>> {
    if v.get("detail-type").is_some() {
        return None;
    }
    if v.get("source")
        .is_some_and(|s| s.as_str() != Some("aws.s3"))
    {
        return None;
    }
    let detail = v.get("detail")?;
    let bucket = detail.pointer("/bucket/name").and_then(Value::as_str);
    let key = detail.pointer("/object/key").and_then(Value::as_str);
    let (Some(bucket), Some(key)) = (bucket, key) else {
        return Some(Err(NotificationError::Shape(
            "S3 event without detail.bucket.name or detail.object.key".into(),
        )));
    };
    let key = if key.contains('%') {
        super::notification::decode_key(key)
    } else {
        key.to_string()
    };
    Some(Ok(Parsed::Objects(vec![ObjectRef {
        bucket: bucket.to_string(),
        key,
        size: detail.pointer("/object/size").and_then(Value::as_u64),
        sequencer: detail
            .pointer("/object/sequencer")
            .and_then(Value::as_str)
            .map(str::to_string),
        event_time: v
            .get("time")
            .and_then(Value::as_str)
            .and_then(crate::time::parse_rfc3339)
            .map(|s| s * 1000),
        etag: detail
            .pointer("/object/etag")
            .and_then(Value::as_str)
            .map(str::to_string),
    }])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message from a Security Lake subscriber queue (elastic/beats#36630), with the VPC
    /// flow source's key.
    const SUBSCRIBER: &str = r#"{"source":"aws.s3","time":"2023-09-16T05:27:07Z","account":"123456789012","region":"us-west-2","resources":["resource_arn"],"detail":{"bucket":{"name":"aws-security-data-lake-us-west-2"},"object":{"key":"aws/VPC_FLOW/2.0/region=us-west-2/accountId=123456789012/eventDay=20230916/a6c45d7f53d0d2915485d6b75e054fcd.gz.parquet","size":13176,"etag":"asdfghj567ghwjhhd"},"request-id":"request-id","requester":"securitylake.amazonaws.com"}}"#;

    #[test]
    fn subscriber_notification_without_detail_type_names_the_object() {
        let Parsed::Objects(o) = super::super::notification::parse_body(SUBSCRIBER).unwrap() else {
            panic!("not objects")
        };
        assert_eq!(o[0].bucket, "aws-security-data-lake-us-west-2");
        assert_eq!(o[0].size, Some(13176));
        let info = parse_key(&o[0].key).unwrap();
        assert_eq!(
            (info.account.as_str(), info.region.as_str()),
            ("123456789012", "us-west-2")
        );
        assert_eq!(format_rfc3339(info.time), "2023-09-16T00:00:00Z");
        // Another event source without detail-type is not taken for an S3 object.
        let other = SUBSCRIBER.replace("\"aws.s3\"", "\"aws.ec2\"");
        assert!(parse_notification(&serde_json::from_str(&other).unwrap()).is_none());
    }

    #[test]
    fn prefixes_cover_both_versions_and_every_day() {
        let q = ReplayQuery {
            prefix: String::new(),
            accounts: vec!["111122223333".into()],
            regions: vec!["us-east-1".into()],
            start: crate::time::parse_rfc3339("2026-11-20T09:00:00Z").unwrap(),
            end: crate::time::parse_rfc3339("2026-11-21T01:00:00Z").unwrap(),
            flow_log_id: None,
        };
        let p = list_prefixes(&q);
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(p.contains(
            &"aws/VPC_FLOW/1.0/region=us-east-1/accountId=111122223333/eventDay=20261119/".into()
        ));
        assert!(p.contains(
            &"aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261121/".into()
        ));
        let k = parse_key("aws/VPC_FLOW/1.0/region=us-east-1/accountId=111122223333/eventDay=20261120/x.gz.parquet").unwrap();
        assert!(in_range(&k, &q));
        let old = parse_key("aws/VPC_FLOW/1.0/region=us-east-1/accountId=111122223333/eventDay=20261101/x.gz.parquet").unwrap();
        assert!(!in_range(&old, &q));
        assert!(parse_key(
            "aws/VPC_FLOW/1.0/region=us-east-1/accountId=1/eventDay=2026112/x.gz.parquet"
        )
        .is_none());
    }
}
