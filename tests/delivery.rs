//! Delivery against real HTTP receivers on 127.0.0.1 written here: they fail, stall, throttle
//! and return partial bulk failures. Nothing may be lost; duplicates only where at-least-once
//! allows them (a re-send after an unconfirmed attempt).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Req {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

#[derive(Clone)]
enum Resp {
    Reply(u16, Vec<(String, String)>, String),
    /// Hold the connection open without answering.
    Stall,
}

type Script = Arc<dyn Fn(&Req, usize) -> Resp + Send + Sync>;

struct Receiver {
    port: u16,
    reqs: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_req(r: &mut BufReader<TcpStream>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Req {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn start(port: u16, script: Script) -> Receiver {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let reqs: Arc<Mutex<Vec<Req>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let (r2, s2) = (reqs.clone(), stop.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (r3, s3, c3, script) = (r2.clone(), s2.clone(), count.clone(), script.clone());
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                while let Some(req) = read_req(&mut r) {
                    if s3.load(Ordering::SeqCst) {
                        return;
                    }
                    let n = c3.fetch_add(1, Ordering::SeqCst);
                    let resp = script(&req, n);
                    r3.lock().unwrap().push(req);
                    match resp {
                        Resp::Stall => {
                            std::thread::sleep(Duration::from_secs(30));
                            return;
                        }
                        Resp::Reply(status, headers, body) => {
                            let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n", body.len());
                            for (k, v) in headers {
                                out.push_str(&format!("{k}: {v}\r\n"));
                            }
                            out.push_str("\r\n");
                            out.push_str(&body);
                            if w.write_all(out.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Receiver { port, reqs, stop }
}

fn ok(body: &str) -> Resp {
    Resp::Reply(200, vec![], body.to_string())
}

fn demo_ids() -> BTreeSet<String> {
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/samples.jsonl"
    ))
    .unwrap();
    golden
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn write_route(dir: &Path, sinks: &str) -> String {
    let path = dir.join("route.toml");
    let text = format!(
        "[spool]\ndir = \"{}\"\nmax_size = \"64MiB\"\n\n[throttle]\nrealert_interval = \"1h\"\n\n{sinks}",
        dir.join("spool").display()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Finding ids in HEC event batches (one JSON envelope per line).
fn hec_ids(reqs: &[Req]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.path == "/services/collector/event")
        .flat_map(|r| {
            r.body
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn hec_retries_503_honours_retry_after_and_waits_for_indexer_ack() {
    let dir = tempfile::tempdir().unwrap();
    let posts = Arc::new(AtomicUsize::new(0));
    let p2 = posts.clone();
    let rx = start(
        0,
        Arc::new(move |req: &Req, _| {
            assert_eq!(
                req.headers.get("authorization").map(String::as_str),
                Some("Splunk s3cr3t-token")
            );
            assert!(req.headers.contains_key("x-splunk-request-channel"));
            if req.path == "/services/collector/ack" {
                return ok(r#"{"acks":{"7":true}}"#);
            }
            if p2.fetch_add(1, Ordering::SeqCst) < 2 {
                return Resp::Reply(
                    503,
                    vec![("Retry-After".into(), "0".into())],
                    r#"{"text":"Server is busy","code":9}"#.into(),
                );
            }
            ok(r#"{"text":"Success","code":0,"ackId":7}"#)
        }),
    );
    let route = write_route(
        dir.path(),
        &format!("[[sink]]\nname = \"splunk\"\ntype = \"hec\"\nurl = \"http://127.0.0.1:{}\"\ntoken_env = \"TEST_HEC_TOKEN\"\nack = true\nindex = \"security\"\n", rx.port),
    );
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "30s",
        ],
        &[("TEST_HEC_TOKEN", "s3cr3t-token")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t-token"),
        "the token leaked into logs"
    );
    let reqs = rx.reqs.lock().unwrap().clone();
    let got: BTreeSet<String> = hec_ids(&reqs).into_iter().collect();
    assert_eq!(got, demo_ids());
    assert!(reqs.iter().any(|r| r.path == "/services/collector/ack"));
    assert!(posts.load(Ordering::SeqCst) >= 3, "the 503s were retried");
    assert!(reqs
        .iter()
        .filter(|r| r.path == "/services/collector/event")
        .all(|r| r.body.contains("\"index\":\"security\"")));
    assert!(
        stderr.contains("\"sent\":18") && stderr.contains("\"dropped\":0"),
        "{stderr}"
    );

    // Same findings again within the interval: throttled, nothing re-sent.
    let before = reqs.len();
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "5s",
        ],
        &[("TEST_HEC_TOKEN", "s3cr3t-token")],
    );
    assert!(out.status.success());
    assert_eq!(rx.reqs.lock().unwrap().len(), before);
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"throttled\":18"));
}

#[test]
fn elastic_bulk_retries_only_retryable_items_and_keeps_rejected_ones() {
    let dir = tempfile::tempdir().unwrap();
    let rejected_id = Arc::new(Mutex::new(String::new()));
    let rid = rejected_id.clone();
    let rx = start(
        0,
        Arc::new(move |req: &Req, n| {
            assert_eq!(req.path, "/_bulk");
            let lines: Vec<&str> = req.body.lines().collect();
            assert_eq!(lines.len() % 2, 0);
            let items: Vec<String> = lines
                .chunks(2)
                .enumerate()
                .map(|(i, pair)| {
                    let meta: serde_json::Value = serde_json::from_str(pair[0]).unwrap();
                    let id = meta["index"]["_id"].as_str().unwrap().to_string();
                    if n == 0 && i == 0 {
                        *rid.lock().unwrap() = id.clone();
                        format!(r#"{{"index":{{"_id":"{id}","status":400,"error":{{"type":"mapper_parsing_exception","reason":"bad"}}}}}}"#)
                    } else if n == 0 && i < 4 {
                        format!(r#"{{"index":{{"_id":"{id}","status":429,"error":{{"type":"es_rejected_execution_exception","reason":"busy"}}}}}}"#)
                    } else {
                        format!(r#"{{"index":{{"_id":"{id}","status":201}}}}"#)
                    }
                })
                .collect();
            ok(&format!(
                r#"{{"took":1,"errors":true,"items":[{}]}}"#,
                items.join(",")
            ))
        }),
    );
    let route = write_route(
        dir.path(),
        &format!("[[sink]]\nname = \"es\"\ntype = \"elastic\"\nurl = \"http://127.0.0.1:{}\"\nbatch_size = 50\n", rx.port),
    );
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "30s",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = rx.reqs.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "one retry of the retryable items");
    let second: Vec<String> = reqs[1]
        .body
        .lines()
        .step_by(2)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]["_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let rejected = rejected_id.lock().unwrap().clone();
    assert!(
        !second.contains(&rejected),
        "a permanently refused item was re-sent"
    );
    assert_eq!(second.len(), 17);
    let mut all: BTreeSet<String> = second.into_iter().collect();
    all.insert(rejected.clone());
    assert_eq!(all, demo_ids());
    let dead = std::fs::read_to_string(dir.path().join("spool/es/rejected.ndjson")).unwrap();
    assert!(dead.contains(&rejected) && dead.contains("mapper_parsing_exception"));
}

#[test]
fn outage_then_restart_delivers_everything_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port with nothing listening: the SIEM is down.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let route = write_route(
        dir.path(),
        &format!("[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\n[[sink]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\npayload = \"ocsf\"\n", dir.path().join("archive.ocsf.jsonl").display()),
    );
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "2s",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "spooled findings are a success: {stderr}"
    );
    assert!(stderr.contains("stay spooled"), "{stderr}");
    // The other sink kept flowing during the outage.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("archive.ocsf.jsonl"))
            .unwrap()
            .lines()
            .count(),
        18
    );

    let rx = start(port, Arc::new(|_: &Req, _| ok("{}")));
    let out = run(&["deliver", "--route", &route, "--timeout", "30s"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = rx
        .reqs
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 18, "each finding exactly once after the outage");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), demo_ids());
    let out = run(&["deliver", "--route", &route, "--timeout", "5s"], &[]);
    assert!(out.status.success());
    assert_eq!(rx.reqs.lock().unwrap().len(), 18, "nothing left to send");
}

#[test]
fn kill_9_while_delivering_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let route = write_route(
        dir.path(),
        &format!("[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout_secs = 60\n"),
    );
    // Spool while the receiver is down, then deliver into a receiver that never answers.
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "1s",
        ],
        &[],
    );
    assert!(out.status.success());
    let stalling = start(port, Arc::new(|_: &Req, _| Resp::Stall));
    let mut child = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(["deliver", "--route", &route, "--timeout", "60s"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while stalling.reqs.lock().unwrap().is_empty() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !stalling.reqs.lock().unwrap().is_empty(),
        "delivery never started"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stalling);
    std::thread::sleep(Duration::from_millis(100));

    let rx = start(port, Arc::new(|_: &Req, _| ok("{}")));
    let out = run(&["deliver", "--route", &route, "--timeout", "30s"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: BTreeSet<String> = rx
        .reqs
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, demo_ids());
}

#[test]
fn unauthorized_halts_the_sink_and_keeps_findings_spooled() {
    let dir = tempfile::tempdir().unwrap();
    let rx = start(
        0,
        Arc::new(|_: &Req, _| {
            Resp::Reply(401, vec![], r#"{"text":"Invalid token","code":4}"#.into())
        }),
    );
    let route = write_route(
        dir.path(),
        &format!("[[sink]]\nname = \"splunk\"\ntype = \"hec\"\nurl = \"http://127.0.0.1:{}\"\ntoken_env = \"TEST_HEC_TOKEN\"\n", rx.port),
    );
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "10s",
        ],
        &[("TEST_HEC_TOKEN", "wrong")],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rx.reqs.lock().unwrap().len(), 1, "401 is not retried");
    assert!(String::from_utf8_lossy(&out.stderr).contains("18 findings stay spooled"));
}

#[test]
fn selection_and_suppression_route_the_right_findings() {
    let dir = tempfile::tempdir().unwrap();
    let slack = start(0, Arc::new(|_: &Req, _| ok("ok")));
    let route_text = "[[suppress]]\nname = \"known mirror\"\ndst_cidrs = [\"198.51.100.0/24\"]\n\n[[sink]]\nname = \"pager\"\ntype = \"slack\"\nurl_env = \"TEST_SLACK_URL\"\n[sink.select]\nmin_severity = \"high\"\nresource = [\"training-job/*\"]\n";
    let route = write_route(dir.path(), route_text);
    let url = format!("http://127.0.0.1:{}/services/T000/B000/XXXX", slack.port);
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "20s",
        ],
        &[("TEST_SLACK_URL", &url)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("XXXX"), "the webhook URL is a secret");
    let reqs = slack.reqs.lock().unwrap().clone();
    // High/critical training-job findings, minus those to the suppressed 198.51.100.0/24.
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/samples.jsonl"
    ))
    .unwrap();
    let want = golden
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .filter(|f| f["resource"]["kind"] == "training-job")
        .filter(|f| !f["dst_ip"].as_str().unwrap().starts_with("198.51.100."))
        .count();
    assert!(want > 0);
    assert_eq!(reqs.len(), want);
    for r in &reqs {
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            v["text"].as_str().unwrap().contains("training-job"),
            "{}",
            r.body
        );
        assert!(!r.body.contains("198.51.100."));
    }
}

#[test]
fn security_hub_batch_import_is_signed_and_handles_failed_findings() {
    let dir = tempfile::tempdir().unwrap();
    let rx = start(
        0,
        Arc::new(|req: &Req, _| {
            assert_eq!(req.path, "/findings/import");
            let auth = req
                .headers
                .get("authorization")
                .cloned()
                .unwrap_or_default();
            assert!(
                auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
                "{auth}"
            );
            assert!(auth.contains("/us-east-1/securityhub/aws4_request"));
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
            let findings = body["Findings"].as_array().unwrap();
            assert!(findings.len() <= 100);
            let first = findings[0]["Id"].as_str().unwrap();
            ok(&format!(
                r#"{{"FailedCount":1,"SuccessCount":{},"FailedFindings":[{{"Id":"{first}","ErrorCode":"InvalidInput","ErrorMessage":"bad"}}]}}"#,
                findings.len() - 1
            ))
        }),
    );
    let route = write_route(
        dir.path(),
        &format!("[[sink]]\nname = \"hub\"\ntype = \"securityhub\"\nurl = \"http://127.0.0.1:{}\"\nregion = \"us-east-1\"\naccount_id = \"111122223333\"\n", rx.port),
    );
    let out = run(
        &[
            "demo",
            "--format",
            "jsonl",
            "--route",
            &route,
            "--deliver-timeout",
            "20s",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", ""),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(rx.reqs.lock().unwrap().len(), 1);
    assert!(
        stderr.contains("\"sent\":17") && stderr.contains("\"failed\":1"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("spool/hub/rejected.ndjson"))
            .unwrap()
            .contains("InvalidInput")
    );
}
