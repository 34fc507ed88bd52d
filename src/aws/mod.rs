//! AWS clients (S3, SQS) on the standard credential chain and region resolution, with an
//! optional endpoint URL for S3-compatible servers (path-style addressing).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::error::DisplayErrorContext;
use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("s3://{bucket}/{key}: object does not exist (deleted after the notification?)")]
    Missing { bucket: String, key: String },
    #[error("{0}")]
    Call(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// Shared SDK configuration: environment, profile, container and instance credentials;
/// `region` and `endpoint_url` override what the environment says. Standard retry mode with
/// five attempts (exponential backoff with jitter, throttling-aware).
pub async fn sdk_config(endpoint_url: Option<&str>, region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(5));
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(e) = endpoint_url {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

pub fn s3_client(cfg: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(cfg)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub fn sqs_client(cfg: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(cfg)
}

/// Every object under `prefix` (all pages).
pub async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<S3Object>, AwsError> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::Call(format!(
                "listing s3://{bucket}/{prefix}: {}",
                DisplayErrorContext(&e)
            ))
        })?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.push(S3Object {
                    key: key.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().map(str::to_string),
                });
            }
        }
    }
    Ok(out)
}

/// The whole object in memory (AWS caps flow-log objects at 75 MB).
pub async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Bytes, AwsError> {
    get_object_limited(s3, bucket, key, u64::MAX).await
}

/// [`get_object`] for a document read whole (inventory, trail file): an object whose
/// Content-Length is over `limit` is refused before its body is read.
pub async fn get_object_limited(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    limit: u64,
) -> Result<Bytes, AwsError> {
    let resp = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(r) => r,
        Err(e) => {
            let missing = e.as_service_error().is_some_and(|se| se.is_no_such_key())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            return Err(if missing {
                AwsError::Missing {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                }
            } else {
                AwsError::Call(format!("s3://{bucket}/{key}: {}", DisplayErrorContext(&e)))
            });
        }
    };
    let len = resp.content_length().unwrap_or(0).max(0) as u64;
    if len > limit {
        return Err(AwsError::Call(format!(
            "s3://{bucket}/{key}: {len} bytes, {}",
            crate::limits::over_json(usize::try_from(limit).unwrap_or(usize::MAX))
        )));
    }
    let body = resp
        .body
        .collect()
        .await
        .map_err(|e| AwsError::Call(format!("s3://{bucket}/{key}: reading body: {e}")))?;
    Ok(body.into_bytes())
}
