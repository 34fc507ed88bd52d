//! AWS VPC Flow Logs S3 key layouts: the prefixes to list for a replay, and the account,
//! region, flow log and time encoded in an object's key.
//!
//! Layouts (destination options of the flow log): `AWSLogs/ACCT/vpcflowlogs/REGION/YYYY/MM/DD/`
//! (daily), the same with `HH/` (per-hour partitions), and the Hive-compatible
//! `AWSLogs/aws-account-id=ACCT/aws-service=vpcflowlogs/aws-region=REGION/year=YYYY/month=MM/day=DD/`
//! (optionally `hour=HH/`). File names: `ACCT_vpcflowlogs_REGION_FLOWLOGID_YYYYMMDDTHHmmZ_HASH.log.gz`
//! (or `.log.parquet`), where the time starts the 5-minute window of the records' end times.

use crate::time::{format_rfc3339, parse_duration, parse_rfc3339};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayQuery {
    /// The bucket's optional prefix before `AWSLogs/` (may be empty).
    pub prefix: String,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Unix seconds; `end` is exclusive.
    pub start: i64,
    pub end: i64,
    pub flow_log_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Daily,
    Hourly,
    Hive,
    HiveHourly,
    /// Amazon Security Lake: `aws/VPC_FLOW/<version>/region=/accountId=/eventDay=/`.
    SecurityLake,
    /// Kinesis Data Firehose objects: `[PREFIX/]YYYY/MM/DD/HH/<stream>-<version>-<time>-<id>`.
    Firehose,
}

/// A file holds records whose end time is within 5 minutes after its name's time, and AWS
/// delivers late; partitions follow the file time. So listing covers one extra hour before the
/// range (records ending at the range start sit in files named up to 5 minutes earlier), and
/// object-level filtering is exact.
const MARGIN_SECS: i64 = 3600;

fn base(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        "AWSLogs/".to_string()
    } else {
        format!("{p}/AWSLogs/")
    }
}

/// `(YYYY, MM, DD, HH)` of a Unix time.
fn ymdh(t: i64) -> (String, String, String, String) {
    let s = format_rfc3339(t); // YYYY-MM-DDTHH:MM:SSZ
    (
        s[0..4].to_string(),
        s[5..7].to_string(),
        s[8..10].to_string(),
        s[11..13].to_string(),
    )
}

/// The exact key prefixes to list, without duplicates, in a stable order.
pub fn list_prefixes(q: &ReplayQuery, layouts: &[Layout]) -> Vec<String> {
    let mut out = Vec::new();
    let b = base(&q.prefix);
    let start = q.start - MARGIN_SECS;
    for layout in layouts {
        if *layout == Layout::SecurityLake {
            out.extend(super::securitylake::list_prefixes(q));
            continue;
        }
        if *layout == Layout::Firehose {
            out.extend(super::firehose::list_prefixes(q));
            continue;
        }
        let hourly = matches!(layout, Layout::Hourly | Layout::HiveHourly);
        let step = if hourly { 3600 } else { 86_400 };
        let mut t = start.div_euclid(step) * step;
        while t < q.end {
            let (y, m, d, h) = ymdh(t);
            for acct in &q.accounts {
                for region in &q.regions {
                    let p = match layout {
                        Layout::Daily => format!("{b}{acct}/vpcflowlogs/{region}/{y}/{m}/{d}/"),
                        Layout::Hourly => format!("{b}{acct}/vpcflowlogs/{region}/{y}/{m}/{d}/{h}/"),
                        Layout::Hive => format!(
                            "{b}aws-account-id={acct}/aws-service=vpcflowlogs/aws-region={region}/year={y}/month={m}/day={d}/"
                        ),
                        Layout::HiveHourly => format!(
                            "{b}aws-account-id={acct}/aws-service=vpcflowlogs/aws-region={region}/year={y}/month={m}/day={d}/hour={h}/"
                        ),
                        Layout::SecurityLake | Layout::Firehose => continue,
                    };
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            t += step;
        }
    }
    // A daily prefix also lists its hourly sub-prefixes; drop those covered by a listed parent.
    let parents: Vec<String> = out.clone();
    out.retain(|p| !parents.iter().any(|q| q != p && p.starts_with(q.as_str())));
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub account: String,
    pub region: String,
    pub flow_log_id: String,
    /// Unix seconds of the file name's `YYYYMMDDTHHmmZ`.
    pub time: i64,
    pub parquet: bool,
}

/// Parses the file name at the end of a key; `None` for anything that is not a flow-log object.
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let name = key.rsplit('/').next()?;
    let (stem, parquet) = if let Some(s) = name.strip_suffix(".log.gz") {
        (s, false)
    } else if let Some(s) = name.strip_suffix(".log.parquet") {
        (s, true)
    } else if let Some(s) = name.strip_suffix(".parquet") {
        (s, true)
    } else {
        return None;
    };
    // ACCT _ vpcflowlogs _ REGION _ FLOWLOGID _ TIME _ HASH; regions and ids have no '_'.
    let parts: Vec<&str> = stem.split('_').collect();
    if parts.len() != 6
        || parts[1] != "vpcflowlogs"
        || !parts[0].bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let ts = parts[4];
    let b = ts.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:00Z",
        &ts[0..4],
        &ts[4..6],
        &ts[6..8],
        &ts[9..11],
        &ts[11..13]
    );
    Some(KeyInfo {
        account: parts[0].to_string(),
        region: parts[2].to_string(),
        flow_log_id: parts[3].to_string(),
        time: parse_rfc3339(&text)?,
        parquet,
    })
}

/// Whether an object may hold records of the query: its 5-minute window overlaps the range and
/// its account, region and flow log match.
pub fn in_range(info: &KeyInfo, q: &ReplayQuery) -> bool {
    info.time + 300 > q.start
        && info.time < q.end
        && (q.accounts.is_empty() || q.accounts.contains(&info.account))
        && (q.regions.is_empty() || q.regions.contains(&info.region))
        && q.flow_log_id
            .as_ref()
            .is_none_or(|id| *id == info.flow_log_id)
}

/// RFC 3339, `now`, or a relative duration back from now (`7d`, `12h`, `30m`).
pub fn parse_time_arg(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if s == "now" {
        return Some(now);
    }
    parse_rfc3339(s).or_else(|| parse_duration(s).map(|d| now - d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(start: &str, end: &str) -> ReplayQuery {
        ReplayQuery {
            prefix: "central/".into(),
            accounts: vec!["111122223333".into()],
            regions: vec!["us-east-1".into()],
            start: parse_rfc3339(start).unwrap(),
            end: parse_rfc3339(end).unwrap(),
            flow_log_id: None,
        }
    }

    #[test]
    fn prefixes_for_every_layout() {
        let query = q("2026-12-31T23:30:00Z", "2027-01-01T01:00:00Z");
        let daily = list_prefixes(&query, &[Layout::Daily]);
        assert_eq!(
            daily,
            [
                "central/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/12/31/",
                "central/AWSLogs/111122223333/vpcflowlogs/us-east-1/2027/01/01/"
            ]
        );
        let hourly = list_prefixes(&query, &[Layout::Hourly]);
        assert_eq!(hourly.len(), 3, "{hourly:?}"); // 22h (margin), 23h, 00h
        assert!(hourly[0].ends_with("2026/12/31/22/"));
        let hive = list_prefixes(&query, &[Layout::HiveHourly]);
        assert!(hive[2].ends_with("aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2027/month=01/day=01/hour=00/"));
        // Daily prefixes cover their hourly children.
        let both = list_prefixes(&query, &[Layout::Daily, Layout::Hourly]);
        assert_eq!(both, daily);
        let mut empty = query.clone();
        empty.prefix = String::new();
        assert!(list_prefixes(&empty, &[Layout::Hive])[0].starts_with("AWSLogs/aws-account-id="));
    }

    #[test]
    fn keys_and_ranges() {
        let k = parse_key("x/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=eu-west-3/year=2022/month=08/day=31/111122223333_vpcflowlogs_eu-west-3_fl-032a163fae170ae52_20220831T1255Z_2ad4bef5.log.parquet").unwrap();
        assert_eq!(
            (
                k.account.as_str(),
                k.region.as_str(),
                k.flow_log_id.as_str(),
                k.parquet
            ),
            ("111122223333", "eu-west-3", "fl-032a163fae170ae52", true)
        );
        assert_eq!(format_rfc3339(k.time), "2022-08-31T12:55:00Z");
        assert!(parse_key("AWSLogs/README.txt").is_none());
        assert!(parse_key("a/123_vpcflowlogs_us-east-1_fl-1_2026112T0900Z_ab.log.gz").is_none());
        assert!(parse_key("a/abc_vpcflowlogs_us-east-1_fl-1_20261120T0900Z_ab.log.gz").is_none());
        let query = q("2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z");
        let at = |t: &str| KeyInfo {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            flow_log_id: "fl-1".into(),
            time: parse_rfc3339(t).unwrap(),
            parquet: false,
        };
        assert!(in_range(&at("2026-11-20T08:56:00Z"), &query)); // window reaches 09:01
        assert!(!in_range(&at("2026-11-20T08:55:00Z"), &query));
        assert!(in_range(&at("2026-11-20T09:55:00Z"), &query));
        assert!(!in_range(&at("2026-11-20T10:00:00Z"), &query));
        let mut other = at("2026-11-20T09:30:00Z");
        other.region = "eu-west-1".into();
        assert!(!in_range(&other, &query));
        assert_eq!(parse_time_arg("7d", 1_000_000), Some(1_000_000 - 604_800));
        assert_eq!(parse_time_arg("now", 5), Some(5));
        assert_eq!(
            parse_time_arg("2026-11-20T00:00:00Z", 0),
            parse_rfc3339("2026-11-20T00:00:00Z")
        );
        assert_eq!(parse_time_arg("yesterday", 0), None);
    }
}
