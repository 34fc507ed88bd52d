//! Transports: how each kind of sink puts findings on the wire and reads the receiver's
//! confirmation. Formatting lives in `crate::sink::format`; this module owns I/O and triage.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{read_secret, Payload, Secret, SinkConfig, SinkKind};
use super::engine::{Outcome, Transport};
use super::retry::parse_retry_after;
use super::spool::Entry;
use crate::detect::Finding;
use crate::sink::format::{self, ecs, hec, ocsf, syslog, Delivery, FormatContext};

fn activity(e: &Entry) -> ocsf::Activity {
    if e.activity == 2 {
        ocsf::Activity::Update
    } else {
        ocsf::Activity::Create
    }
}

/// Builds the transport a sink's configuration describes.
pub fn build(cfg: &SinkConfig, ctx: FormatContext) -> Result<Box<dyn Transport>, String> {
    let secret =
        |what: &str| read_secret(cfg.token_env.as_deref(), cfg.token_file.as_deref(), what);
    let url = || -> Result<String, String> {
        if let Some(u) = &cfg.url {
            return Ok(u.trim_end_matches('/').to_string());
        }
        match read_secret(cfg.url_env.as_deref(), cfg.url_file.as_deref(), "url")? {
            Some(s) => Ok(s.expose().trim_end_matches('/').to_string()),
            None => Err("no url".into()),
        }
    };
    let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
    Ok(match cfg.kind {
        SinkKind::File => Box::new(FileSink {
            path: cfg.path.clone().ok_or("file sink needs path")?,
            payload: cfg.payload,
            ctx,
        }),
        SinkKind::Hec => Box::new(HecSink {
            http: Http::new(timeout),
            url: url()?,
            token: secret("HEC token")?.ok_or("HEC needs token_env or token_file")?,
            opts: hec::HecOptions {
                index: cfg.index.clone(),
                sourcetype: cfg.sourcetype.clone(),
                payload: hec::EventPayload::Finding,
            },
            ack: cfg.ack,
            channel: channel_id(&cfg.name),
            batch: cfg.batch_size.unwrap_or(100),
            ctx,
        }),
        SinkKind::Elastic => Box::new(ElasticSink {
            http: Http::new(timeout),
            url: url()?,
            token: secret("Elastic API key")?,
            index: cfg
                .index
                .clone()
                .unwrap_or_else(|| "egresswatch-findings".into()),
            batch: cfg.batch_size.unwrap_or(200),
            ctx,
        }),
        SinkKind::Webhook | SinkKind::Slack => Box::new(WebhookSink {
            http: Http::new(timeout),
            url: url()?,
            token: secret("webhook token")?,
            slack: cfg.kind == SinkKind::Slack,
        }),
        SinkKind::Securityhub => {
            let region = cfg.region.clone().ok_or("securityhub needs region")?;
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let (Some(access_key), Some(secret_key)) =
                (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
            else {
                return Err("securityhub needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment".into());
            };
            let mut ctx = ctx.with_region(region.clone());
            if let Some(a) = &cfg.account_id {
                ctx = ctx.with_account(a.clone());
            }
            Box::new(SecurityHubSink {
                http: Http::new(timeout),
                endpoint: cfg
                    .url
                    .clone()
                    .map(|u| u.trim_end_matches('/').to_string())
                    .unwrap_or_else(|| format!("https://securityhub.{region}.amazonaws.com")),
                region,
                creds: sigv4::Credentials {
                    access_key,
                    secret_key,
                    session_token: env("AWS_SESSION_TOKEN"),
                },
                ctx,
            })
        }
        SinkKind::Syslog => Box::new(SyslogSink {
            address: cfg.address.clone().ok_or("syslog needs address")?,
            tls: if cfg.tls {
                Some(tls_config(cfg.ca_file.as_deref())?)
            } else {
                None
            },
            server_name: cfg.server_name.clone(),
            opts: syslog::SyslogOptions {
                payload: if cfg.payload == Payload::Cef {
                    syslog::Payload::Cef
                } else {
                    syslog::Payload::Json
                },
                ..Default::default()
            },
            timeout,
            conn: None,
            ctx,
        }),
    })
}

fn channel_id(name: &str) -> String {
    // A stable per-sink channel GUID (HEC wants a GUID; any stable one works).
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("egresswatch/hec-channel/{name}"));
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A minimal HTTP client: status, Retry-After and body, with connection errors surfaced.
struct Http {
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Http {
    fn new(timeout: Duration) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Http { agent }
    }

    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut req = self.agent.post(url).header("Content-Type", content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send(&body[..]).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

/// Maps a whole-request HTTP result to one outcome for every entry.
fn whole(n: usize, reply: Result<&Reply, &str>) -> Vec<Outcome> {
    let o = match reply {
        Err(e) => Outcome::Retry {
            reason: format!("request failed: {e}"),
            after: None,
        },
        Ok(r) => match format::classify_http_status(r.status) {
            Delivery::Ok => Outcome::Accepted,
            Delivery::Retryable => Outcome::Retry {
                reason: format!("HTTP {}", r.status),
                after: r.retry_after,
            },
            Delivery::Permanent if matches!(r.status, 401 | 403 | 404 | 405) => {
                Outcome::Halt(format!(
                    "HTTP {}: check the sink's url and credentials ({})",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ))
            }
            Delivery::Permanent => Outcome::Reject(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
        },
    };
    vec![o; n]
}

struct FileSink {
    path: std::path::PathBuf,
    payload: Payload,
    ctx: FormatContext,
}

impl Transport for FileSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let mut buf = Vec::new();
        for e in batch {
            let line = match self.payload {
                Payload::Ocsf => ocsf::to_json(&e.finding, &self.ctx, activity(e)),
                Payload::Cef => syslog::cef(&e.finding, &self.ctx),
                Payload::Json => serde_json::to_string(&e.finding).unwrap_or_default(),
            };
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        let result = (|| -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            f.write_all(&buf)?;
            f.sync_data()
        })();
        match result {
            Ok(()) => vec![Outcome::Accepted; batch.len()],
            Err(e) => vec![
                Outcome::Retry {
                    reason: format!("{}: {e}", self.path.display()),
                    after: None
                };
                batch.len()
            ],
        }
    }
}

struct HecSink {
    http: Http,
    url: String,
    token: Secret,
    opts: hec::HecOptions,
    ack: bool,
    channel: String,
    batch: usize,
    ctx: FormatContext,
}

impl HecSink {
    fn post_events(&self, findings: &[Finding]) -> Result<Reply, String> {
        let body = hec::batch(findings, &self.ctx, &self.opts).into_bytes();
        let auth = format!("Splunk {}", self.token.expose());
        self.http.post(
            &format!("{}/services/collector/event", self.url),
            &[
                ("Authorization", &auth),
                ("X-Splunk-Request-Channel", &self.channel),
            ],
            "application/json",
            body,
        )
    }

    /// Polls the indexer acknowledgement until the request is indexed or the wait expires.
    fn wait_ack(&self, ack_id: u64) -> Result<bool, String> {
        let auth = format!("Splunk {}", self.token.expose());
        let started = Instant::now();
        let mut wait = Duration::from_millis(50);
        while started.elapsed() < Duration::from_secs(30) {
            let r = self.http.post(
                &format!("{}/services/collector/ack", self.url),
                &[
                    ("Authorization", &auth),
                    ("X-Splunk-Request-Channel", &self.channel),
                ],
                "application/json",
                hec::ack_request(&[ack_id]).into_bytes(),
            )?;
            if r.status == 200 {
                if let Ok(acks) = hec::parse_ack_response(&r.body) {
                    if acks.get(&ack_id) == Some(&true) {
                        return Ok(true);
                    }
                }
            } else if format::classify_http_status(r.status) == Delivery::Permanent {
                return Err(format!("ack query: HTTP {}", r.status));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        Ok(false)
    }

    fn send_findings(&self, findings: &[Finding]) -> Vec<Outcome> {
        let n = findings.len();
        let reply = match self.post_events(findings) {
            Ok(r) => r,
            Err(e) => return whole(n, Err(&e)),
        };
        let parsed = hec::parse_response(&reply.body).ok();
        match hec::classify(reply.status, parsed.as_ref().map(|p| p.code)) {
            Delivery::Ok => {
                if !self.ack {
                    return vec![Outcome::Accepted; n];
                }
                match parsed.and_then(|p| p.ack_id) {
                    None => vec![Outcome::Halt("indexer acknowledgement is on but HEC returned no ackId: enable it on the token or set ack = false".into()); n],
                    Some(id) => match self.wait_ack(id) {
                        Ok(true) => vec![Outcome::Accepted; n],
                        Ok(false) => vec![Outcome::Retry { reason: format!("ackId {id} not indexed within 30s"), after: None }; n],
                        Err(e) => vec![Outcome::Retry { reason: e, after: None }; n],
                    },
                }
            }
            Delivery::Retryable => vec![
                Outcome::Retry {
                    reason: format!(
                        "HEC HTTP {} code {:?}",
                        reply.status,
                        parsed.map(|p| p.code)
                    ),
                    after: reply.retry_after
                };
                n
            ],
            Delivery::Permanent => {
                let code = parsed.as_ref().map(|p| p.code);
                // Token, index or channel problems halt the sink; a bad event is isolated by
                // re-sending the batch one event at a time.
                if matches!(reply.status, 401 | 403) || matches!(code, Some(1..=4 | 7 | 10 | 11)) {
                    vec![
                        Outcome::Halt(format!(
                            "HEC HTTP {} code {code:?}: check token, index and channel settings",
                            reply.status
                        ));
                        n
                    ]
                } else if n > 1 {
                    findings
                        .iter()
                        .flat_map(|f| self.send_findings(std::slice::from_ref(f)))
                        .collect()
                } else {
                    vec![
                        Outcome::Reject(format!(
                            "HEC HTTP {} code {code:?}: {}",
                            reply.status,
                            String::from_utf8_lossy(&reply.body)
                        ));
                        n
                    ]
                }
            }
        }
    }
}

impl Transport for HecSink {
    fn max_batch(&self) -> usize {
        self.batch
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let findings: Vec<Finding> = batch.iter().map(|e| e.finding.clone()).collect();
        self.send_findings(&findings)
    }
}

struct ElasticSink {
    http: Http,
    url: String,
    token: Option<Secret>,
    index: String,
    batch: usize,
    ctx: FormatContext,
}

impl Transport for ElasticSink {
    fn max_batch(&self) -> usize {
        self.batch
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let findings: Vec<Finding> = batch.iter().map(|e| e.finding.clone()).collect();
        let body =
            ecs::bulk_body(&findings, &self.index, ecs::BulkAction::Index, &self.ctx).into_bytes();
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("ApiKey {}", t.expose()));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let reply = match self.http.post(
            &format!("{}/_bulk", self.url),
            &headers,
            "application/x-ndjson",
            body,
        ) {
            Ok(r) => r,
            Err(e) => return whole(batch.len(), Err(&e)),
        };
        if reply.status != 200 {
            return whole(batch.len(), Ok(&reply));
        }
        let items = match ecs::parse_bulk_response(&reply.body) {
            Ok(items) if items.len() == batch.len() => items,
            Ok(items) => {
                return whole(
                    batch.len(),
                    Err(&format!(
                        "bulk response has {} items for {} documents",
                        items.len(),
                        batch.len()
                    )),
                )
            }
            Err(e) => return whole(batch.len(), Err(&e.to_string())),
        };
        items
            .into_iter()
            .map(|it| match it.outcome {
                Delivery::Ok => Outcome::Accepted,
                Delivery::Retryable => Outcome::Retry {
                    reason: format!(
                        "bulk item {}: {}",
                        it.status,
                        it.error_type.unwrap_or_default()
                    ),
                    after: reply.retry_after,
                },
                Delivery::Permanent => Outcome::Reject(format!(
                    "bulk item {}: {} {}",
                    it.status,
                    it.error_type.unwrap_or_default(),
                    it.reason.unwrap_or_default()
                )),
            })
            .collect()
    }
}

struct WebhookSink {
    http: Http,
    url: String,
    token: Option<Secret>,
    slack: bool,
}

impl Transport for WebhookSink {
    fn max_batch(&self) -> usize {
        1
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        batch
            .iter()
            .map(|e| {
                let body = if self.slack {
                    format::slack::slack_body(&e.finding)
                } else {
                    serde_json::to_string(&e.finding).unwrap_or_default()
                };
                let auth = self
                    .token
                    .as_ref()
                    .map(|t| format!("Bearer {}", t.expose()));
                let headers: Vec<(&str, &str)> =
                    auth.iter().map(|a| ("Authorization", a.as_str())).collect();
                let r = self
                    .http
                    .post(&self.url, &headers, "application/json", body.into_bytes());
                let mut o = match &r {
                    Ok(reply) => whole(1, Ok(reply)),
                    Err(err) => whole(1, Err(err)),
                };
                o.pop().unwrap_or(Outcome::Retry {
                    reason: "no outcome".into(),
                    after: None,
                })
            })
            .collect()
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn write_all_flush(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => {
                s.write_all(buf)?;
                s.flush()
            }
            Conn::Tls(s) => {
                s.write_all(buf)?;
                s.flush()
            }
        }
    }
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("ca_file {}: no certificate", path.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

struct SyslogSink {
    address: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: Option<String>,
    opts: syslog::SyslogOptions,
    timeout: Duration,
    conn: Option<Conn>,
    ctx: FormatContext,
}

impl SyslogSink {
    fn connect(&self) -> Result<Conn, String> {
        use std::net::ToSocketAddrs;
        let addr = self
            .address
            .to_socket_addrs()
            .map_err(|e| format!("{}: {e}", self.address))?
            .next()
            .ok_or_else(|| format!("{}: no address", self.address))?;
        let tcp = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| format!("{}: {e}", self.address))?;
        let _ = tcp.set_write_timeout(Some(self.timeout));
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Conn::Plain(tcp)),
            Some(cfg) => {
                let host = self.server_name.clone().unwrap_or_else(|| {
                    self.address
                        .rsplit_once(':')
                        .map_or(self.address.clone(), |(h, _)| h.to_string())
                });
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("TLS server name {host}: {e}"))?;
                let conn =
                    rustls::ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                // Complete the handshake now so certificate errors surface as such.
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .map_err(|e| format!("TLS handshake with {}: {e}", self.address))?;
                }
                Ok(Conn::Tls(Box::new(stream)))
            }
        }
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        // End TLS sessions with close_notify so the receiver does not log a truncated stream.
        if let Some(Conn::Tls(s)) = self.conn.as_mut() {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    }
}

impl Transport for SyslogSink {
    fn max_batch(&self) -> usize {
        200
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let mut buf = String::new();
        for e in batch {
            buf.push_str(&syslog::framed(&e.finding, &self.ctx, &self.opts));
        }
        if self.conn.is_none() {
            match self.connect() {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    let halt = e.contains("certificate") || e.contains("InvalidCertificate");
                    let o = if halt {
                        Outcome::Halt(e)
                    } else {
                        Outcome::Retry {
                            reason: e,
                            after: None,
                        }
                    };
                    return vec![o; batch.len()];
                }
            }
        }
        let result = match self.conn.as_mut() {
            Some(c) => c.write_all_flush(buf.as_bytes()),
            None => Err(std::io::Error::other("not connected")),
        };
        match result {
            Ok(()) => vec![Outcome::Accepted; batch.len()],
            Err(e) => {
                // The connection is gone: reconnect next time and send the batch again.
                self.conn = None;
                vec![
                    Outcome::Retry {
                        reason: format!("syslog write to {}: {e}", self.address),
                        after: None
                    };
                    batch.len()
                ]
            }
        }
    }
}

/// AWS Signature Version 4 for one JSON POST.
pub mod sigv4 {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    type HmacSha256 = Hmac<Sha256>;

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so construction cannot fail.
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    pub struct Credentials {
        pub access_key: String,
        pub secret_key: String,
        pub session_token: Option<String>,
    }

    /// Headers (`x-amz-date`, optional `x-amz-security-token`, `authorization`) for a POST of
    /// `body` to `host` + `path` with content type application/x-amz-json-1.1 or json.
    #[allow(clippy::too_many_arguments)] // one per SigV4 input; a struct would only rename them
    pub fn sign(
        creds: &Credentials,
        region: &str,
        service: &str,
        host: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        amz_date: &str,
    ) -> Vec<(String, String)> {
        sign_with(
            creds,
            region,
            service,
            host,
            path,
            content_type,
            body,
            amz_date,
            &[],
        )
    }

    /// [`sign`] with extra headers (e.g. `x-amz-target`) that are signed and must be sent.
    #[allow(clippy::too_many_arguments)]
    pub fn sign_with(
        creds: &Credentials,
        region: &str,
        service: &str,
        host: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        amz_date: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let date = &amz_date[..8];
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), content_type.into()),
            ("host".into(), host.into()),
            ("x-amz-date".into(), amz_date.into()),
        ];
        for (k, v) in extra {
            headers.push((k.to_ascii_lowercase(), v.to_string()));
        }
        if let Some(t) = &creds.session_token {
            headers.push(("x-amz-security-token".into(), t.clone()));
        }
        headers.sort();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let canonical = format!(
            "POST\n{path}\n\n{canonical_headers}\n{signed}\n{}",
            hex(&Sha256::digest(body))
        );
        let scope = format!("{date}/{region}/{service}/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let k = hmac(
            format!("AWS4{}", creds.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let k = hmac(&k, region.as_bytes());
        let k = hmac(&k, service.as_bytes());
        let k = hmac(&k, b"aws4_request");
        let signature = hex(&hmac(&k, to_sign.as_bytes()));
        let mut out = vec![("x-amz-date".to_string(), amz_date.to_string())];
        if let Some(t) = &creds.session_token {
            out.push(("x-amz-security-token".into(), t.clone()));
        }
        out.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                creds.access_key
            ),
        ));
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn matches_the_aws_documentation_signing_key_example() {
            // Signing key derivation from the AWS SigV4 documentation example
            // (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
            let k = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
            let k = hmac(&k, b"us-east-1");
            let k = hmac(&k, b"iam");
            let k = hmac(&k, b"aws4_request");
            assert_eq!(
                hex(&k),
                "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
            );
        }

        #[test]
        fn authorization_header_shape() {
            let creds = Credentials {
                access_key: "AKIDEXAMPLE".into(),
                secret_key: "secret".into(),
                session_token: Some("tok".into()),
            };
            let h = sign(
                &creds,
                "us-east-1",
                "securityhub",
                "securityhub.us-east-1.amazonaws.com",
                "/findings/import",
                "application/json",
                b"{}",
                "20261122T140000Z",
            );
            let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
            assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/securityhub/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="));
            assert_eq!(auth.rsplit('=').next().unwrap().len(), 64);
        }
    }
}

struct SecurityHubSink {
    http: Http,
    endpoint: String,
    region: String,
    creds: sigv4::Credentials,
    ctx: FormatContext,
}

pub(crate) fn amz_date(now_ms: i64) -> String {
    // 2026-11-22T14:00:00Z -> 20261122T140000Z
    crate::time::format_rfc3339(now_ms / 1000).replace(['-', ':'], "")
}

impl Transport for SecurityHubSink {
    fn max_batch(&self) -> usize {
        format::asff::MAX_BATCH
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let findings: Vec<Finding> = batch.iter().map(|e| e.finding.clone()).collect();
        // UpdatedAt must advance on every re-send.
        let mut ctx = self.ctx.clone();
        ctx.now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(ctx.now_ms, |d| d.as_millis() as i64);
        let bodies = match format::asff::batch_import_bodies(&findings, &ctx) {
            Ok(b) => b,
            Err(e) => {
                return vec![
                    Outcome::Halt(format!(
                        "ASFF: {e} (set region and account_id on the sink)"
                    ));
                    batch.len()
                ]
            }
        };
        let Some(body) = bodies.into_iter().next() else {
            return Vec::new();
        };
        let url = format!("{}/findings/import", self.endpoint);
        let host = self
            .endpoint
            .split("://")
            .nth(1)
            .unwrap_or(&self.endpoint)
            .trim_end_matches('/')
            .to_string();
        let signed = sigv4::sign(
            &self.creds,
            &self.region,
            "securityhub",
            &host,
            "/findings/import",
            "application/json",
            body.as_bytes(),
            &amz_date(ctx.now_ms),
        );
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = match self
            .http
            .post(&url, &headers, "application/json", body.into_bytes())
        {
            Ok(r) => r,
            Err(e) => return whole(batch.len(), Err(&e)),
        };
        if reply.status != 200 {
            return whole(batch.len(), Ok(&reply));
        }
        let resp = match format::asff::parse_batch_import_response(&reply.body) {
            Ok(r) => r,
            Err(e) => return whole(batch.len(), Err(&e.to_string())),
        };
        batch
            .iter()
            .map(
                |e| match resp.failed_findings.iter().find(|ff| ff.id == e.finding.id) {
                    None => Outcome::Accepted,
                    Some(ff) => match ff.delivery() {
                        Delivery::Retryable => Outcome::Retry {
                            reason: format!("{}: {}", ff.error_code, ff.error_message),
                            after: None,
                        },
                        _ => Outcome::Reject(format!("{}: {}", ff.error_code, ff.error_message)),
                    },
                },
            )
            .collect()
    }
}
