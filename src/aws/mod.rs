//! AWS clients (S3, SQS) on the standard credential chain and region resolution, with an
//! optional endpoint URL for S3-compatible servers (path-style addressing).
//!
//! Network failures: every call is retried by the SDK (standard mode, `AWS_MAX_ATTEMPTS`
//! attempts, default 5, exponential backoff with jitter; throttling, 5xx, timeouts, resets and
//! clock-skew rejections, after which it signs with the server's time). An S3 object body is
//! read after the SDK returned, so its failures (reset, shorter than `Content-Length`, a stall
//! longer than the read timeout) are retried here: the whole object again, a bounded number of
//! times, pinned with `If-Match` to the version first read, so a retry never mixes two
//! versions. A body that never arrives whole is an error naming the object, never a truncated
//! object handed to the decoder.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
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

/// Default of `--read-timeout` / `EGRESSWATCH_READ_TIMEOUT`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of attempts per call (`AWS_MAX_ATTEMPTS` overrides).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Whole-object reads of one S3 body (the first included) before it is an error.
pub const BODY_ATTEMPTS: u32 = 4;
/// The longest SQS long poll (`WaitTimeSeconds` ≤ 20): added to the read timeout of the SQS
/// client, whose responses legitimately take that long to start.
const LONG_POLL: Duration = Duration::from_secs(20);

/// How long a response may take to start, and a body may go without a byte, before the attempt
/// is abandoned (and retried): `EGRESSWATCH_READ_TIMEOUT` (a duration like `30s` or `2m`), else
/// 30 s. An unreadable value is warned about and the default used.
pub fn read_timeout_from_env() -> Duration {
    match std::env::var("EGRESSWATCH_READ_TIMEOUT") {
        Ok(v) => match crate::time::parse_duration(&v) {
            Some(s) if s > 0 => Duration::from_secs(s as u64),
            _ => {
                tracing::warn!(value = %v, "EGRESSWATCH_READ_TIMEOUT is not a duration like 30s; using 30s");
                DEFAULT_READ_TIMEOUT
            }
        },
        Err(_) => DEFAULT_READ_TIMEOUT,
    }
}

/// Attempts per SDK call: `AWS_MAX_ATTEMPTS` (the SDKs' standard variable) when it is a
/// positive integer, else 5.
fn max_attempts_from_env() -> u32 {
    std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS)
}

/// Shared SDK configuration: environment, profile, container and instance credentials;
/// `region` and `endpoint_url` override what the environment says. Standard retry mode with
/// five attempts (exponential backoff with jitter, throttling-aware); the read timeout of
/// [`read_timeout_from_env`].
pub async fn sdk_config(endpoint_url: Option<&str>, region: Option<&str>) -> aws_config::SdkConfig {
    sdk_config_with(endpoint_url, region, None).await
}

/// [`sdk_config`] with an explicit read timeout (`--read-timeout`); `None`: the environment's.
/// The timeout bounds the wait for a response to start and, through the SDK's stalled-stream
/// protection, a body that stops sending (its grace period): both are retried, never waited
/// on forever. Connections time out after 10 s.
pub async fn sdk_config_with(
    endpoint_url: Option<&str>,
    region: Option<&str>,
    read_timeout: Option<Duration>,
) -> aws_config::SdkConfig {
    let read_timeout = read_timeout.unwrap_or_else(read_timeout_from_env);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts_from_env()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(read_timeout)
                .build(),
        )
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(read_timeout)
                .build(),
        );
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

/// The SQS client: the shared configuration, with the long poll added to its read timeout (a
/// receive waits up to 20 s for messages before its response starts).
pub fn sqs_client(cfg: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    let mut conf = aws_sdk_sqs::config::Builder::from(cfg);
    if let Some(t) = cfg.timeout_config() {
        if let Some(rt) = t.read_timeout() {
            let mut b = t.to_builder();
            b.set_read_timeout(Some(rt + LONG_POLL));
            conf = conf.timeout_config(b.build());
        }
    }
    aws_sdk_sqs::Client::from_conf(conf.build())
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

/// What a listing or a notification said about an object before it is read: its ETag (sent
/// as `If-Match`) and its size (checked against the body read with that ETag).
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    pub etag: Option<&'a str>,
    pub size: Option<u64>,
    /// Refuse, before reading the body, an object whose Content-Length is larger (a document
    /// read whole into memory: `EGRESSWATCH_MAX_JSON_BYTES`).
    pub max_bytes: Option<u64>,
}

impl<'a> From<&'a S3Object> for Expect<'a> {
    fn from(o: &'a S3Object) -> Self {
        Expect {
            etag: o.etag.as_deref(),
            size: Some(o.size),
            max_bytes: None,
        }
    }
}

/// An ETag as S3 sends it in headers (quoted); notifications carry it bare.
fn quoted(etag: &str) -> String {
    let t = etag.trim();
    if t.starts_with('"') || t.starts_with("W/") {
        t.to_string()
    } else {
        format!("\"{t}\"")
    }
}

/// The whole object in memory (AWS caps flow-log objects at 75 MB), with no expectation.
pub async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Bytes, AwsError> {
    get_object_as(s3, bucket, key, Expect::default()).await
}

/// The whole object, read as one version. The SDK retries the request; the body, read after
/// the SDK returned, is checked here: a body that broke off (reset, fewer bytes than
/// `Content-Length`, or than the listed size of the listed ETag, a stall past the read timeout)
/// is read again whole, up to [`BODY_ATTEMPTS`] times, with `If-Match` on the ETag of the
/// version being read, so a retry cannot splice two versions. An object replaced since it was
/// listed (`412 Precondition Failed`, or another ETag answered) is read as its new version, whole,
/// and said so in a warning. Giving up is an error naming the object: a partial body is never
/// returned.
pub async fn get_object_as(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    expect: Expect<'_>,
) -> Result<Bytes, AwsError> {
    let name = format!("s3://{bucket}/{key}");
    let mut pin: Option<String> = expect.etag.map(quoted);
    // The listed size holds only for the listed version.
    let mut pinned_size = expect.size.filter(|_| pin.is_some());
    let mut last = String::new();
    // Objects are held whole in memory: an attacker who can write to the bucket must not be
    // able to make one read take all of it. Documents have their own (JSON) limit.
    let object_limit = crate::limits::get().max_object_bytes;
    let over = |len: u64| -> Option<AwsError> {
        match expect.max_bytes {
            Some(limit) if len > limit => Some(AwsError::Call(format!(
                "{name}: {len} bytes, {}",
                crate::limits::over_json(usize::try_from(limit).unwrap_or(usize::MAX))
            ))),
            None if len > object_limit => Some(AwsError::Call(format!(
                "{name}: {}",
                crate::limits::over_object(len, object_limit)
            ))),
            _ => None,
        }
    };
    if let Some(e) = expect.size.and_then(&over) {
        return Err(e);
    }
    for attempt in 1..=BODY_ATTEMPTS {
        if attempt > 1 {
            // 200 ms, 400 ms, 800 ms: the SDK already backed off for the request itself.
            tokio::time::sleep(Duration::from_millis(200u64 << (attempt - 2).min(4))).await;
        }
        let mut req = s3.get_object().bucket(bucket).key(key);
        if let Some(e) = &pin {
            req = req.if_match(e);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                if e.as_service_error().is_some_and(|se| se.is_no_such_key()) || status == Some(404)
                {
                    return Err(AwsError::Missing {
                        bucket: bucket.to_string(),
                        key: key.to_string(),
                    });
                }
                if status == Some(412) && pin.is_some() {
                    tracing::warn!(object = %name, etag = pin.as_deref().unwrap_or(""), "object replaced since it was listed or first read; reading its current version whole");
                    last = format!(
                        "replaced while being read (ETag {} no longer current)",
                        pin.as_deref().unwrap_or("")
                    );
                    pin = None;
                    pinned_size = None;
                    continue;
                }
                return Err(AwsError::Call(format!(
                    "{name}: {}",
                    DisplayErrorContext(&e)
                )));
            }
        };
        let etag = resp.e_tag().map(quoted);
        if let (Some(p), Some(got)) = (&pin, &etag) {
            if p != got {
                // A server that ignores If-Match: what it sends is still one version.
                tracing::warn!(object = %name, listed = %p, read = %got, "object replaced since it was listed; reading its current version");
                pinned_size = None;
            }
        }
        let declared = resp.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(e) = declared.and_then(&over) {
            return Err(e);
        }
        let want = declared.or(pinned_size);
        pin = etag.or(pin);
        match resp.body.collect().await {
            Ok(b) => {
                let b = b.into_bytes();
                match want {
                    Some(w) if b.len() as u64 != w => {
                        last = format!("body ended after {} of {w} bytes", b.len());
                    }
                    _ => return Ok(b),
                }
            }
            Err(e) => last = format!("reading body: {}", DisplayErrorContext(&e)),
        }
        if attempt < BODY_ATTEMPTS {
            tracing::warn!(object = %name, attempt, of = BODY_ATTEMPTS, "{last}; reading the object again");
        }
    }
    Err(AwsError::Call(format!(
        "{name}: {last} (gave up after {BODY_ATTEMPTS} reads; nothing of it was decoded)"
    )))
}

/// [`get_object`] for a document read whole (inventory, trail file): an object whose
/// Content-Length is over `limit` is refused before its body is read.
pub async fn get_object_limited(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    limit: u64,
) -> Result<Bytes, AwsError> {
    let expect = Expect {
        max_bytes: Some(limit),
        ..Expect::default()
    };
    get_object_as(s3, bucket, key, expect).await
}
