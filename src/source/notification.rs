//! S3 event notifications as they arrive on SQS (directly, wrapped in SNS, or from EventBridge)
//! and as Lambda receives them, turned into the objects to read.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("message body is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("message is not an S3 notification: {0}")]
    Shape(String),
    #[error("message body is {len} bytes, over the {limit} byte limit on one JSON document (EGRESSWATCH_MAX_JSON_BYTES); not parsed")]
    TooLarge { len: usize, limit: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    pub size: Option<u64>,
    pub sequencer: Option<String>,
    /// Unix milliseconds of the event.
    pub event_time: Option<i64>,
    pub etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Objects(Vec<ObjectRef>),
    /// `s3:TestEvent`, sent when notifications are configured: skip it.
    TestEvent,
    /// A valid notification that names no new object (e.g. ObjectRemoved): why.
    Ignored(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsRecord {
    pub message_id: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LambdaEvent {
    Sqs(Vec<SqsRecord>),
    S3(Vec<ObjectRef>),
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding as S3 applies it to notification keys: `+` is a
/// space, `%XX` a byte; a malformed escape is kept as written.
pub fn decode_key(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3)
        .any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some())
}

fn time_ms(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_str)
        .and_then(crate::time::parse_rfc3339)
        .map(|s| s * 1000)
}

fn s3_records(v: &Value) -> Result<Parsed, NotificationError> {
    let Some(records) = v.get("Records").and_then(Value::as_array) else {
        return Err(NotificationError::Shape("no Records".into()));
    };
    let mut objects = Vec::new();
    let mut other = Vec::new();
    for r in records {
        let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
        if !name.starts_with("ObjectCreated:") {
            other.push(name.to_string());
            continue;
        }
        let s3 = r
            .get("s3")
            .ok_or_else(|| NotificationError::Shape("record without s3".into()))?;
        let bucket = s3.pointer("/bucket/name").and_then(Value::as_str);
        let key = s3.pointer("/object/key").and_then(Value::as_str);
        let (Some(bucket), Some(key)) = (bucket, key) else {
            return Err(NotificationError::Shape(
                "record without bucket or key".into(),
            ));
        };
        objects.push(ObjectRef {
            bucket: bucket.to_string(),
            key: decode_key(key),
            size: s3.pointer("/object/size").and_then(Value::as_u64),
            sequencer: s3
                .pointer("/object/sequencer")
                .and_then(Value::as_str)
                .map(str::to_string),
            event_time: time_ms(r.get("eventTime")),
            etag: s3
                .pointer("/object/eTag")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    // One multipart upload can be notified twice (moto does): read each object once.
    objects.dedup_by(|a, b| a.bucket == b.bucket && a.key == b.key);
    Ok(if objects.is_empty() {
        Parsed::Ignored(format!("no ObjectCreated record ({})", other.join(", ")))
    } else {
        Parsed::Objects(objects)
    })
}

fn parse_value(v: &Value) -> Result<Parsed, NotificationError> {
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Parsed::TestEvent);
    }
    if v.get("Records").is_some() {
        return s3_records(v);
    }
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        let msg = v
            .get("Message")
            .and_then(Value::as_str)
            .ok_or_else(|| NotificationError::Shape("SNS notification without Message".into()))?;
        let inner: Value = serde_json::from_str(msg)?;
        return parse_value(&inner);
    }
    if let Some(dt) = v.get("detail-type").and_then(Value::as_str) {
        if v.get("source").and_then(Value::as_str) != Some("aws.s3") || dt != "Object Created" {
            return Ok(Parsed::Ignored(format!("EventBridge {dt}")));
        }
        let bucket = v.pointer("/detail/bucket/name").and_then(Value::as_str);
        let key = v.pointer("/detail/object/key").and_then(Value::as_str);
        let (Some(bucket), Some(key)) = (bucket, key) else {
            return Err(NotificationError::Shape(
                "EventBridge event without bucket or key".into(),
            ));
        };
        // EventBridge does not document its keys as URL-encoded; decode only visible escapes.
        let key = if has_escape(key) {
            decode_key(key)
        } else {
            key.to_string()
        };
        return Ok(Parsed::Objects(vec![ObjectRef {
            bucket: bucket.to_string(),
            key,
            size: v.pointer("/detail/object/size").and_then(Value::as_u64),
            sequencer: v
                .pointer("/detail/object/sequencer")
                .and_then(Value::as_str)
                .map(str::to_string),
            event_time: time_ms(v.get("time")),
            etag: v
                .pointer("/detail/object/etag")
                .and_then(Value::as_str)
                .map(str::to_string),
        }]));
    }
    if let Some(p) = super::securitylake::parse_notification(v) {
        return p;
    }
    Ok(Parsed::Ignored(UNRECOGNISED.into()))
}

/// The `Ignored` reason of a message recognised as nothing (never silent: counted and warned).
pub const UNRECOGNISED: &str = "not an S3 notification";

/// Parses one SQS message body.
pub fn parse_body(body: &str) -> Result<Parsed, NotificationError> {
    parse_body_limited(body, crate::limits::get().max_json_bytes)
}

/// [`parse_body`] refusing a body over `limit` bytes before parsing it (a parsed JSON value
/// takes several times its text).
pub fn parse_body_limited(body: &str, limit: usize) -> Result<Parsed, NotificationError> {
    if body.len() > limit {
        return Err(NotificationError::TooLarge {
            len: body.len(),
            limit,
        });
    }
    let v: Value = serde_json::from_str(body)?;
    parse_value(&v)
}

/// Parses a Lambda invocation event: an SQS batch, or an S3 event invoking the function directly.
pub fn parse_lambda_event(v: &Value) -> Result<LambdaEvent, NotificationError> {
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| NotificationError::Shape("event without Records".into()))?;
    if records
        .first()
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
    {
        let mut out = Vec::new();
        for r in records {
            let (Some(id), Some(body)) = (
                r.get("messageId").and_then(Value::as_str),
                r.get("body").and_then(Value::as_str),
            ) else {
                return Err(NotificationError::Shape(
                    "SQS record without messageId or body".into(),
                ));
            };
            out.push(SqsRecord {
                message_id: id.to_string(),
                body: body.to_string(),
            });
        }
        return Ok(LambdaEvent::Sqs(out));
    }
    match s3_records(v)? {
        Parsed::Objects(o) => Ok(LambdaEvent::S3(o)),
        _ => Ok(LambdaEvent::S3(Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIRECT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-3","eventTime":"2022-08-31T13:05:44.123Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"flow-bucket","arn":"arn:aws:s3:::flow-bucket"},"object":{"key":"AWSLogs/aws-account-id%3D111111111111/aws-service%3Dvpcflowlogs/aws-region%3Deu-west-3/year%3D2022/month%3D08/day%3D31/111111111111_vpcflowlogs_eu-west-3_fl-032a163fae170ae52_20220831T1255Z_2ad4bef5.log.parquet","size":9234,"eTag":"abc","sequencer":"00630F5B28"}}}]}"#;

    #[test]
    fn direct_sns_eventbridge_and_test_events() {
        let Parsed::Objects(o) = parse_body(DIRECT).unwrap() else {
            panic!()
        };
        assert_eq!(o[0].bucket, "flow-bucket");
        assert!(o[0]
            .key
            .starts_with("AWSLogs/aws-account-id=111111111111/aws-service=vpcflowlogs/"));
        assert_eq!(o[0].size, Some(9234));
        assert!(crate::source::layout::parse_key(&o[0].key).is_some());

        let sns = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": DIRECT}).to_string();
        assert_eq!(parse_body(&sns).unwrap(), parse_body(DIRECT).unwrap());

        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"b"}"#;
        assert_eq!(parse_body(test).unwrap(), Parsed::TestEvent);
        let sns_test = serde_json::json!({"Type": "Notification", "Message": test}).to_string();
        assert_eq!(parse_body(&sns_test).unwrap(), Parsed::TestEvent);

        let eb = r#"{"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2021-11-12T00:00:00Z","detail":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/1/vpcflowlogs/us-east-1/2021/11/12/a b.log.gz","size":5}}}"#;
        let Parsed::Objects(o) = parse_body(eb).unwrap() else {
            panic!()
        };
        assert_eq!(
            o[0].key,
            "AWSLogs/1/vpcflowlogs/us-east-1/2021/11/12/a b.log.gz"
        );

        let removed = DIRECT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(matches!(parse_body(&removed).unwrap(), Parsed::Ignored(_)));
        assert!(parse_body("not json").is_err());
        let e = parse_body_limited(DIRECT, DIRECT.len() - 1).unwrap_err();
        assert!(e.to_string().contains("EGRESSWATCH_MAX_JSON_BYTES"), "{e}");
        assert!(parse_body_limited(DIRECT, DIRECT.len()).is_ok());
        assert!(matches!(
            parse_body("{\"hello\":1}").unwrap(),
            Parsed::Ignored(_)
        ));
    }

    #[test]
    fn key_decoding() {
        assert_eq!(decode_key("a+b%3Dc%2Fd"), "a b=c/d");
        assert_eq!(decode_key("100%"), "100%");
        assert_eq!(decode_key("%zz%4"), "%zz%4");
        assert_eq!(decode_key("caf%C3%A9"), "café");
    }

    #[test]
    fn lambda_events() {
        let sqs = serde_json::json!({"Records": [
            {"messageId": "1", "receiptHandle": "r", "body": DIRECT, "eventSource": "aws:sqs"},
            {"messageId": "2", "receiptHandle": "r", "body": "{}", "eventSource": "aws:sqs"}
        ]});
        let LambdaEvent::Sqs(r) = parse_lambda_event(&sqs).unwrap() else {
            panic!()
        };
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].message_id, "2");
        let direct: Value = serde_json::from_str(DIRECT).unwrap();
        let LambdaEvent::S3(o) = parse_lambda_event(&direct).unwrap() else {
            panic!()
        };
        assert_eq!(o.len(), 1);
        assert!(parse_lambda_event(&serde_json::json!({})).is_err());
    }
}
