//! A fault-injecting HTTP/1.1 proxy between the SDK and moto on 127.0.0.1, for failures moto
//! cannot produce: connections reset in the middle of a body, bodies shorter than their
//! `Content-Length`, stalls, 5xx bursts, throttled or partially failed SQS calls, a skewed server
//! clock. Plain std threads: one per client connection, one upstream connection per request
//! (`Connection: close` both ways, so a fault never poisons a pooled connection).
//!
//! Every exchange is logged (request line, headers, body; response status and body; the fault
//! applied) so a test can assert what the client sent, e.g. `If-Match` or the access key id in
//! `Authorization`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One request as the client sent it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as on the request line.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The SQS action of a JSON-protocol call (`X-Amz-Target: AmazonSQS.ReceiveMessage`).
    pub fn sqs_action(&self) -> Option<&str> {
        self.header("x-amz-target")
            .and_then(|t| t.strip_prefix("AmazonSQS."))
    }

    /// An S3 ListObjectsV2 call.
    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.target.contains("list-type=2")
    }

    /// An S3 GetObject of a key containing `part` (path-style: `/bucket/key`).
    pub fn is_get_of(&self, part: &str) -> bool {
        self.method == "GET"
            && self.sqs_action().is_none()
            && !self.target.contains("list-type")
            && self.target.split('?').next().unwrap_or("").contains(part)
    }

    /// The access key id in a SigV4 `Authorization` header.
    pub fn access_key(&self) -> Option<String> {
        let a = self.header("authorization")?;
        let c = a.split("Credential=").nth(1)?;
        Some(c.split('/').next()?.to_string())
    }
}

/// A response from upstream (or made up), body de-chunked.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn head(&self, with_length: bool) -> Vec<u8> {
        let mut h = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (k, v) in &self.headers {
            let l = k.to_ascii_lowercase();
            if l == "content-length" || l == "transfer-encoding" || l == "connection" {
                continue;
            }
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if with_length {
            h.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        h.push_str("Connection: close\r\n\r\n");
        h.into_bytes()
    }

    fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }
}

/// What the proxy does to a matching exchange.
pub enum Fault {
    /// Answer with this status and an S3 XML error (or, for SQS calls, an AWS JSON error
    /// carrying the code in `x-amzn-query-error` as SQS does), without forwarding.
    Error { status: u16, code: &'static str },
    /// Forward; send the head and half the body, then reset the connection (RST).
    ResetMidBody,
    /// Forward; send the head (full `Content-Length`) and half the body, then close (FIN).
    ShortBody,
    /// Forward; send the head without `Content-Length` and half the body, then close: a
    /// close-delimited body that HTTP alone cannot tell from a whole one.
    UnframedShortBody,
    /// Forward; send the head and half the body, then send nothing until the client gives up
    /// (or `max` passes), then close.
    StallMidBody { max: Duration },
    /// Run this before forwarding (e.g. replace the object being read).
    Before(Box<dyn Fn(&Request) + Send + Sync>),
    /// SQS DeleteMessageBatch: report the first `fail` entries as failed on the server's side
    /// (`SenderFault: false`) without deleting them; forward the others.
    FailDeleteEntries { fail: usize },
}

struct Rule {
    matches: Box<dyn Fn(&Request) -> bool + Send + Sync>,
    fault: Arc<Fault>,
    left: usize,
    /// Active for this long from the first match (then spent), instead of a count.
    window: Option<Duration>,
    first: Option<Instant>,
}

/// One logged exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Request,
    pub status: u16,
    pub response_body: Vec<u8>,
    /// The fault applied, by name (`None`: forwarded untouched).
    pub fault: Option<&'static str>,
    /// For faults that leave the connection open: the client closed it first.
    pub client_gave_up: bool,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<Exchange>>,
    /// The simulated server clock minus the real one, in seconds.
    skew: Mutex<Option<i64>>,
}

pub struct FaultProxy {
    pub url: String,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let up = upstream.trim_start_matches("http://").to_string();
        assert!(up.starts_with("127.0.0.1:"), "loopback upstream only");
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (up, sh) = (up.clone(), sh.clone());
                std::thread::spawn(move || serve(conn, &up, &sh));
            }
        });
        FaultProxy {
            url: format!("http://127.0.0.1:{port}"),
            shared,
            stop,
        }
    }

    /// Applies `fault` to the next `times` requests that match.
    pub fn add(
        &self,
        times: usize,
        matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) {
        self.shared.rules.lock().expect("rules lock").push(Rule {
            matches: Box::new(matches),
            fault: Arc::new(fault),
            left: times,
            window: None,
            first: None,
        });
    }

    /// Applies `fault` to every matching request for `window` from the first one.
    pub fn add_for(
        &self,
        window: Duration,
        matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) {
        self.shared.rules.lock().expect("rules lock").push(Rule {
            matches: Box::new(matches),
            fault: Arc::new(fault),
            left: usize::MAX,
            window: Some(window),
            first: None,
        });
    }

    /// Simulates a server whose clock is `secs` ahead of this machine's: every response's
    /// `Date` says so, and a request whose `X-Amz-Date` is more than 15 minutes off that clock
    /// gets 403 `RequestTimeTooSkewed`, as S3 answers.
    pub fn set_skew(&self, secs: i64) {
        *self.shared.skew.lock().expect("skew lock") = Some(secs);
    }

    pub fn log(&self) -> Vec<Exchange> {
        self.shared.log.lock().expect("log lock").clone()
    }

    /// How many exchanges had the fault named `name` applied.
    pub fn faults(&self, name: &str) -> usize {
        self.log().iter().filter(|e| e.fault == Some(name)).count()
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut first = String::new();
    if r.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        req.body = read_chunked(r)?;
        req.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("transfer-encoding"));
    } else {
        let len: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        r.read_exact(&mut body).ok()?;
        req.body = body;
    }
    Some(req)
}

fn read_chunked(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).ok()?;
        let n = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if n == 0 {
            // Trailers, then the blank line.
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).ok()? == 0 || l.trim().is_empty() {
                    return Some(out);
                }
            }
        }
        let mut chunk = vec![0; n + 2];
        r.read_exact(&mut chunk).ok()?;
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `req` upstream on a fresh connection and reads the whole response.
fn forward(up: &str, req: &Request) -> Option<Response> {
    let mut s = TcpStream::connect(up).ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        let l = k.to_ascii_lowercase();
        if l == "connection" || l == "content-length" {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(&req.body).ok()?;
    let mut r = BufReader::new(s);
    let mut status_line = String::new();
    r.read_line(&mut status_line).ok()?;
    let mut parts = status_line.trim_end().splitn(3, ' ');
    let _version = parts.next()?;
    let status: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        read_chunked(&mut r)?
    } else {
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        let mut b = Vec::new();
        match len {
            Some(n) if req.method != "HEAD" => {
                b.resize(n, 0);
                r.read_exact(&mut b).ok()?;
            }
            Some(_) => {}
            None => {
                r.read_to_end(&mut b).ok()?;
            }
        }
        b
    };
    Some(Response {
        status,
        reason,
        headers,
        body,
    })
}

fn error_response(req: &Request, status: u16, code: &str) -> Response {
    let reason = match status {
        403 => "Forbidden",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    if req.sqs_action().is_some() {
        let body = format!(
            r#"{{"__type":"com.amazonaws.sqs#{code}","message":"injected by the fault proxy"}}"#
        );
        Response {
            status,
            reason: reason.into(),
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.0".into()),
                ("x-amzn-query-error".into(), format!("{code};Sender")),
            ],
            body: body.into_bytes(),
        }
    } else {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the fault proxy</Message><RequestId>fault</RequestId></Error>"
        );
        Response {
            status,
            reason: reason.into(),
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: body.into_bytes(),
        }
    }
}

fn http_date(t: SystemTime) -> String {
    // RFC 7231 IMF-fixdate, by hand (no date crate in the tests).
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `X-Amz-Date` (`20261204T190000Z`) as Unix seconds.
fn amz_date(v: &str) -> Option<i64> {
    let (d, t) = v.split_once('T')?;
    let n = |s: &str| s.parse::<i64>().ok();
    let (y, m, day) = (n(d.get(0..4)?)?, n(d.get(4..6)?)?, n(d.get(6..8)?)?);
    let t = t.trim_end_matches('Z');
    let (hh, mm, ss) = (n(t.get(0..2)?)?, n(t.get(2..4)?)?, n(t.get(4..6)?)?);
    // Days from civil (inverse of `civil`).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn take_rule(sh: &Shared, req: &Request) -> Option<Arc<Fault>> {
    let mut rules = sh.rules.lock().expect("rules lock");
    let now = Instant::now();
    let r = rules.iter_mut().find(|r| {
        let live = match (r.window, r.first) {
            (Some(w), Some(t)) => now.duration_since(t) < w,
            _ => r.left > 0,
        };
        live && (r.matches)(req)
    })?;
    r.first.get_or_insert(now);
    r.left = r.left.saturating_sub(1);
    Some(r.fault.clone())
}

/// Resets the connection on drop (SO_LINGER 0): the client sees ECONNRESET, not a clean EOF.
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn serve(conn: TcpStream, up: &str, sh: &Shared) {
    let Ok(mut client) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::new(conn);
    let Some(mut req) = read_request(&mut r) else {
        return;
    };
    let skew = *sh.skew.lock().expect("skew lock");
    let server_now = skew.map(|s| {
        let now = SystemTime::now();
        if s >= 0 {
            now + Duration::from_secs(s as u64)
        } else {
            now - Duration::from_secs(s.unsigned_abs())
        }
    });
    let log = |req: &Request, resp: &Response, fault: Option<&'static str>, gave_up: bool| {
        sh.log.lock().expect("log lock").push(Exchange {
            request: req.clone(),
            status: resp.status,
            response_body: resp.body.clone(),
            fault,
            client_gave_up: gave_up,
        });
    };
    let with_date = |mut resp: Response| {
        if let Some(t) = server_now {
            resp.set_header("Date", http_date(t));
        }
        resp
    };
    if let Some(now) = server_now {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let signed = req.header("x-amz-date").and_then(amz_date);
        if signed.is_none_or(|t| (t - now).abs() > 15 * 60) {
            let resp = with_date(error_response(&req, 403, "RequestTimeTooSkewed"));
            let _ = client.write_all(&resp.head(true));
            let _ = client.write_all(&resp.body);
            log(&req, &resp, Some("RequestTimeTooSkewed"), false);
            return;
        }
    }
    let fault = take_rule(sh, &req);
    let name = fault.as_deref().map(|f| match f {
        Fault::Error { .. } => "Error",
        Fault::ResetMidBody => "ResetMidBody",
        Fault::ShortBody => "ShortBody",
        Fault::UnframedShortBody => "UnframedShortBody",
        Fault::StallMidBody { .. } => "StallMidBody",
        Fault::Before(_) => "Before",
        Fault::FailDeleteEntries { .. } => "FailDeleteEntries",
    });
    let original = req.clone();
    let mut failed_entries: Vec<serde_json::Value> = Vec::new();
    match fault.as_deref() {
        Some(Fault::Error { status, code }) => {
            let resp = with_date(error_response(&req, *status, code));
            let _ = client.write_all(&resp.head(true));
            let _ = client.write_all(&resp.body);
            log(&req, &resp, name, false);
            return;
        }
        Some(Fault::Before(f)) => f(&req),
        Some(Fault::FailDeleteEntries { fail }) => {
            // Keep the entries after the first `fail` in the forwarded request.
            if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&req.body) {
                if let Some(entries) = v.get_mut("Entries").and_then(|e| e.as_array_mut()) {
                    let n = (*fail).min(entries.len());
                    for e in entries.drain(..n) {
                        failed_entries.push(serde_json::json!({
                            "Id": e["Id"], "SenderFault": false, "Code": "InternalError",
                            "Message": "injected by the fault proxy"
                        }));
                    }
                }
                req.body = serde_json::to_vec(&v).unwrap_or_default();
            }
        }
        _ => {}
    }
    let Some(mut resp) = forward(up, &req) else {
        return;
    };
    if !failed_entries.is_empty() {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&resp.body) {
            let failed = v
                .as_object_mut()
                .map(|o| o.entry("Failed").or_insert(serde_json::json!([])));
            if let Some(a) = failed.and_then(|f| f.as_array_mut()) {
                a.extend(failed_entries);
            }
            resp.body = serde_json::to_vec(&v).unwrap_or_default();
        }
    }
    let resp = with_date(resp);
    let half = resp.body.len() / 2;
    match fault.as_deref() {
        Some(Fault::ResetMidBody) => {
            let _ = client.write_all(&resp.head(true));
            let _ = client.write_all(&resp.body[..half]);
            let _ = client.flush();
            std::thread::sleep(Duration::from_millis(50));
            reset(&client);
            log(&original, &resp, name, false);
        }
        Some(Fault::ShortBody) => {
            let _ = client.write_all(&resp.head(true));
            let _ = client.write_all(&resp.body[..half]);
            let _ = client.shutdown(std::net::Shutdown::Both);
            log(&original, &resp, name, false);
        }
        Some(Fault::UnframedShortBody) => {
            let _ = client.write_all(&resp.head(false));
            let _ = client.write_all(&resp.body[..half]);
            let _ = client.shutdown(std::net::Shutdown::Both);
            log(&original, &resp, name, false);
        }
        Some(Fault::StallMidBody { max }) => {
            let _ = client.write_all(&resp.head(true));
            let _ = client.write_all(&resp.body[..half]);
            let _ = client.flush();
            // Wait for the client to close its side: a read of 0 bytes or a reset. A read
            // timeout (`max` passed) means it never gave up.
            let _ = r.get_ref().set_read_timeout(Some(*max));
            let mut b = [0u8; 1];
            let gave_up = match r.get_mut().read(&mut b) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            };
            log(&original, &resp, name, gave_up);
            let _ = client.shutdown(std::net::Shutdown::Both);
        }
        _ => {
            let _ = client.write_all(&resp.head(true));
            let _ = client.write_all(&resp.body);
            log(&original, &resp, name, false);
        }
    }
}

/// Container credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) on a loopback port: the n-th
/// fetch answers access key id `ASIAFAULT000n`, valid for `valid` from then.
pub struct CredentialServer {
    pub url: String,
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl CredentialServer {
    pub fn start(valid: Duration) -> CredentialServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let Ok(mut w) = conn.try_clone() else {
                    continue;
                };
                let mut r = BufReader::new(conn);
                if read_request(&mut r).is_none() {
                    continue;
                }
                let n = h.fetch_add(1, Ordering::SeqCst) + 1;
                let exp = SystemTime::now() + valid;
                let body = serde_json::json!({
                    "AccessKeyId": CredentialServer::key_for(n),
                    "SecretAccessKey": format!("secret{n}"),
                    "Token": format!("token{n}"),
                    "Expiration": rfc3339(exp),
                })
                .to_string();
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        CredentialServer {
            url: format!("http://127.0.0.1:{port}/v2/credentials/fault"),
            hits,
        }
    }

    fn key_for(n: usize) -> String {
        format!("ASIAFAULT{n:04}")
    }

    /// The access key id of the n-th fetch (1-based).
    pub fn key(&self, n: usize) -> String {
        Self::key_for(n)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
