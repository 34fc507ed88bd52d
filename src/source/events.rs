//! EventBridge events that teach the ENI ledger, arriving on the same queue as the flow-log
//! notifications: "AWS API Call via CloudTrail" for the ENI and SageMaker calls, and
//! `aws.sagemaker` state changes (job run windows, VpcConfig). Wrapped in SNS or not.

use serde_json::Value;

/// A history event: its id and what it says.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryEvent {
    /// `detail` is a CloudTrail record.
    CloudTrail { id: String, detail: Value },
    /// A SageMaker state change: `detail-type` and `detail`.
    SageMaker {
        id: String,
        detail_type: String,
        detail: Value,
    },
}

/// `Some` when the body is an EventBridge event of either kind (directly or inside an SNS
/// envelope); flow-log notifications and anything else are `None`.
pub fn parse(body: &str) -> Option<HistoryEvent> {
    // Cheap test first: most messages are S3 notifications.
    if !body.contains("detail-type") {
        return None;
    }
    // Over the limit it is not parsed here; `notification::parse_body` then refuses it loudly.
    if body.len() > crate::limits::get().max_json_bytes {
        return None;
    }
    let v: Value = serde_json::from_str(body).ok()?;
    let v = match v.get("Type").and_then(Value::as_str) {
        Some("Notification") => serde_json::from_str(v.get("Message")?.as_str()?).ok()?,
        _ => v,
    };
    let detail_type = v.get("detail-type")?.as_str()?;
    let source = v.get("source").and_then(Value::as_str).unwrap_or("");
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let detail = v.get("detail")?.clone();
    if detail_type == "AWS API Call via CloudTrail" && matches!(source, "aws.ec2" | "aws.sagemaker")
    {
        return Some(HistoryEvent::CloudTrail { id, detail });
    }
    if source == "aws.sagemaker" && detail_type.starts_with("SageMaker ") {
        return Some(HistoryEvent::SageMaker {
            id,
            detail_type: detail_type.to_string(),
            detail,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_kinds_directly_and_in_sns() {
        let ct = r#"{"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"eventName":"CreateNetworkInterface"}}"#;
        assert!(matches!(parse(ct), Some(HistoryEvent::CloudTrail { .. })));
        let sns = serde_json::json!({"Type":"Notification","Message": ct}).to_string();
        assert!(matches!(parse(&sns), Some(HistoryEvent::CloudTrail { .. })));
        let sm = r#"{"id":"e2","detail-type":"SageMaker Training Job State Change","source":"aws.sagemaker","detail":{"TrainingJobName":"j"}}"#;
        assert!(matches!(parse(sm), Some(HistoryEvent::SageMaker { .. })));
        let s3 = r#"{"detail-type":"Object Created","source":"aws.s3","detail":{}}"#;
        assert_eq!(parse(s3), None);
        assert_eq!(parse(r#"{"Records":[]}"#), None);
    }
}
