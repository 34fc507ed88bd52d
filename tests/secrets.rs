//! No secret appears in logs, state, spools, reports or error messages. The binary runs with
//! every kind of secret the routing file can name (a webhook URL with its token in the path and
//! a bearer token, a Slack URL from a file, a HEC token, an Elastic API key from a file) and
//! the AWS secret key and session token, at the most verbose log level, against receivers on
//! 127.0.0.1 that fail in every way a sink can (5xx, 4xx, 401, connection refused, an invalid
//! URL) and echo what they were sent back in their error bodies. Then stdout, stderr and every
//! file the runs wrote (spools, `rejected.ndjson`, throttle state, `--state`, report, summary)
//! are searched for each secret.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

mod common;
use common::moto::moto;
use common::proc::{self, files_under, Fault};

const WEBHOOK_PATH: &str = "/hooks/whk-path-secret-3f9a1c77e2";
const WEBHOOK_TOKEN: &str = "whk-bearer-secret-8d21b7aa90";
const SLACK_PATH: &str = "/services/T0SECRET/B0SECRET/slk-secret-c0ffee1234";
const HEC_TOKEN: &str = "hec-token-secret-5be7e0d9c4";
const ES_KEY: &str = "es-apikey-secret-77aa31f0d2";
const DOWN_PATH: &str = "/down-path-secret-9e8d7c6b5a";
const BAD_URL_SECRET: &str = "badurl-secret-0a1b2c3d4e";
const AWS_SECRET: &str = "aws-secret-key-secret-4c3b2a1908";
const AWS_SESSION: &str = "aws-session-token-secret-f1e2d3c4b5";

fn secrets() -> Vec<&'static str> {
    vec![
        WEBHOOK_PATH.trim_start_matches('/'),
        WEBHOOK_TOKEN,
        SLACK_PATH.trim_start_matches('/'),
        "slk-secret-c0ffee1234",
        HEC_TOKEN,
        ES_KEY,
        DOWN_PATH.trim_start_matches('/'),
        BAD_URL_SECRET,
        AWS_SECRET,
        AWS_SESSION,
    ]
}

/// What a receiver got: request line and headers, per request.
type Seen = Arc<Mutex<Vec<String>>>;

/// An HTTP/1.1 receiver on 127.0.0.1 answering every request with `status`, and an error body
/// that repeats the request line and every header (the worst a receiver can do).
fn receiver(status: u16) -> (u16, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(c) = conn else { continue };
            let s = s.clone();
            std::thread::spawn(move || serve(c, status, &s));
        }
    });
    (port, seen)
}

fn serve(c: std::net::TcpStream, status: u16, seen: &Seen) {
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    loop {
        let mut head = String::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(head.clone());
        let echo = serde_json::json!({ "error": format!("refused: {head}") }).to_string();
        let reason = if status == 200 { "OK" } else { "Error" };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{echo}",
            echo.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Every file under `dir` and the outputs, searched for every secret; the panic message names
/// where a secret was found (never the secret itself... it is a test secret).
fn assert_no_secret(dir: &Path, outputs: &[&Output]) {
    let mut places: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (i, o) in outputs.iter().enumerate() {
        places.insert(format!("run {i} stdout"), o.stdout.clone());
        places.insert(format!("run {i} stderr"), o.stderr.clone());
    }
    for f in files_under(dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        // The inputs that hold secrets on purpose (as an operator would mount them).
        if name.ends_with(".secret") {
            continue;
        }
        places.insert(f.display().to_string(), std::fs::read(&f).unwrap());
    }
    let mut leaks = Vec::new();
    for (place, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for s in secrets() {
            if text.contains(s) {
                let at = text.find(s).unwrap();
                let from = text[..at].char_indices().rev().nth(120).map_or(0, |c| c.0);
                leaks.push(format!("{s} in {place}: ...{}", &text[from..at]));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    assert!(places.len() > outputs.len() * 2, "some files were searched");
}

/// Checks: with every sink secret in use at trace level (the Security Hub sink signs with the
/// AWS secret key and sends the session token), against failing receivers that echo
/// the request (5xx retried, 400 rejected into `rejected.ndjson`, 401 halting, refused
/// connections, an invalid URL), no secret appears on stdout, stderr or in any file written:
/// spools, rejected entries, throttle state, baseline state, report, summary. The receivers did
/// get the secrets (so they were in use), and the errors still name the sink and the host.
#[test]
fn no_secret_in_logs_state_spools_reports_or_errors_at_trace_level() {
    let d = tempfile::tempdir().unwrap();
    let (web_port, web_seen) = receiver(500);
    let (slack_port, slack_seen) = receiver(400);
    let (hec_port, hec_seen) = receiver(401);
    let (es_port, es_seen) = receiver(503);
    let (hub_port, hub_seen) = receiver(403);
    write(
        &d.path().join("slack.secret"),
        &format!("http://127.0.0.1:{slack_port}{SLACK_PATH}\n"),
    );
    write(&d.path().join("es.secret"), ES_KEY);
    let route = d.path().join("route.toml");
    write(
        &route,
        &format!(
            r#"[spool]
dir = "{spool}"

[[sink]]
name = "webhook"
type = "webhook"
url_env = "TEST_WEBHOOK_URL"
token_env = "TEST_WEBHOOK_TOKEN"
timeout_secs = 2

[[sink]]
name = "slack"
type = "slack"
url_file = "{slack}"
timeout_secs = 2

[[sink]]
name = "hec"
type = "hec"
url = "http://127.0.0.1:{hec_port}"
token_env = "TEST_HEC_TOKEN"
timeout_secs = 2

[[sink]]
name = "elastic"
type = "elastic"
url = "http://127.0.0.1:{es_port}"
token_file = "{es}"
timeout_secs = 2

[[sink]]
name = "securityhub"
type = "securityhub"
url = "http://127.0.0.1:{hub_port}"
region = "us-east-1"
account_id = "111122223333"
timeout_secs = 2

[[sink]]
name = "down"
type = "webhook"
url_env = "TEST_DOWN_URL"
timeout_secs = 1

[[sink]]
name = "badurl"
type = "webhook"
url_env = "TEST_BAD_URL"
timeout_secs = 1
"#,
            spool = d.path().join("spool").display(),
            slack = d.path().join("slack.secret").display(),
            es = d.path().join("es.secret").display(),
        ),
    );
    let web_url = format!("http://127.0.0.1:{web_port}{WEBHOOK_PATH}");
    let down_url = format!("http://127.0.0.1:{}{DOWN_PATH}", closed_port());
    let bad_url = format!("http://127.0.0.1:1/ {BAD_URL_SECRET}\u{7f}");
    let env: Vec<(&str, &str)> = vec![
        ("TEST_WEBHOOK_URL", &web_url),
        ("TEST_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
        ("TEST_HEC_TOKEN", HEC_TOKEN),
        ("TEST_DOWN_URL", &down_url),
        ("TEST_BAD_URL", &bad_url),
        ("AWS_ACCESS_KEY_ID", "AKIDTESTSECRETS"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
        ("AWS_SESSION_TOKEN", AWS_SESSION),
        ("EGRESSWATCH_LOG", "trace"),
        ("RUST_LOG", "trace"),
        ("RUST_BACKTRACE", "1"),
    ];
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let inv = root.join("samples/inventory").display().to_string();
    let samples = root.join("samples/flowlogs").display().to_string();
    let p = |n: &str| d.path().join(n).display().to_string();
    let (route_s, state, summary, out, report) = (
        route.display().to_string(),
        p("state"),
        p("summary.json"),
        p("findings.jsonl"),
        p("report.html"),
    );
    let scan = proc::run(
        Fault::none(),
        &[
            "-vv",
            "scan",
            &samples,
            "--inventory",
            &inv,
            "--state",
            &state,
            "--route",
            &route_s,
            "--deliver-timeout",
            "2s",
            "--summary-json",
            &summary,
            "--output",
            &out,
        ],
        &env,
    );
    let err = String::from_utf8_lossy(&scan.stderr).to_string();
    assert!(
        err.contains("TRACE") || err.contains("DEBUG"),
        "verbose: {err}"
    );
    // Halted (401) sinks make the run exit 5; the findings stay spooled.
    assert_eq!(scan.status.code(), Some(5), "{err}");
    assert!(
        err.contains("HTTP 500") && err.contains("sink=\"webhook\""),
        "errors still say which sink failed and how: {err}"
    );
    let deliver = proc::run(
        Fault::none(),
        &["-vv", "deliver", "--route", &route_s, "--timeout", "2s"],
        &env,
    );
    let rep = proc::run(
        Fault::none(),
        &[
            "-vv",
            "report",
            &samples,
            "--inventory",
            &inv,
            "--out",
            &report,
            "--json",
            &p("report.json"),
        ],
        &env,
    );
    assert!(
        rep.status.success(),
        "{}",
        String::from_utf8_lossy(&rep.stderr)
    );

    // The secrets were really in use.
    let all = |s: &Seen| s.lock().unwrap().join("\n");
    assert!(all(&web_seen).contains(WEBHOOK_PATH) && all(&web_seen).contains(WEBHOOK_TOKEN));
    assert!(all(&slack_seen).contains(SLACK_PATH));
    assert!(all(&hec_seen).contains(HEC_TOKEN));
    assert!(all(&es_seen).contains(ES_KEY));
    assert!(
        all(&hub_seen)
            .to_ascii_lowercase()
            .contains(&AWS_SESSION.to_ascii_lowercase()),
        "Security Hub calls are signed with the session token"
    );
    assert!(
        std::fs::read_to_string(d.path().join("spool/slack/rejected.ndjson"))
            .unwrap()
            .contains("HTTP 400"),
        "the 400 was rejected with its (scrubbed) reason"
    );
    assert_no_secret(d.path(), &[&scan, &deliver, &rep]);
}

/// Checks: the AWS secret key and session token never appear at trace level while the SDK
/// signs S3 calls (a replay from moto), nor in the error of a call that fails.
#[test]
fn no_aws_secret_in_trace_logs_of_sdk_calls() {
    let Some(m) = moto() else { return };
    let d = tempfile::tempdir().unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let inv = root.join("samples/inventory").display().to_string();
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDTESTSECRETS"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
        ("AWS_SESSION_TOKEN", AWS_SESSION),
        ("AWS_REGION", "us-east-1"),
        ("EGRESSWATCH_LOG", "trace"),
        ("RUST_LOG", "trace"),
    ];
    let cp = d.path().join("cp.json").display().to_string();
    let args = |bucket: &'static str| {
        vec![
            "replay".to_string(),
            "--endpoint-url".into(),
            m.url.clone(),
            "--bucket".into(),
            bucket.into(),
            "--account".into(),
            "111122223333".into(),
            "--region".into(),
            "us-east-1".into(),
            "--start".into(),
            "2026-11-20T00:00:00Z".into(),
            "--end".into(),
            "2026-11-21T00:00:00Z".into(),
            "--inventory".into(),
            inv.clone(),
            "--checkpoint".into(),
            cp.clone(),
        ]
    };
    // A bucket that does not exist: the signed calls fail and their errors are printed.
    let a = args("no-such-bucket");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let failed = proc::run(Fault::none(), &a, &env);
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("TRACE"),
        "trace level: {}",
        &err[..err.len().min(2000)]
    );
    assert_no_secret_outputs(&[&failed]);
}

fn assert_no_secret_outputs(outputs: &[&Output]) {
    for o in outputs {
        for text in [&o.stdout, &o.stderr] {
            let t = String::from_utf8_lossy(text);
            for s in secrets() {
                if let Some(at) = t.find(s) {
                    let from = t[..at].char_indices().rev().nth(200).map_or(0, |c| c.0);
                    panic!("{s} leaked: ...{}", &t[from..at]);
                }
            }
        }
    }
}
