//! A moto server (S3, SQS, EC2, SageMaker, EventBridge, CloudFormation) on a free loopback
//! port, from the venv `scripts/setup_moto.sh` makes; killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server from `EGRESSWATCH_MOTO_PYTHON`; `None` (the test skips, saying so) when it is not
/// set outside CI, a panic in CI (scripts/test.sh always sets it).
pub fn moto() -> Option<Moto> {
    from_env(start)
}

/// Like [`moto`], but its threads are not preempted while running Python code (a 60 s GIL
/// switch interval; they still switch on I/O). moto checks `If-None-Match` / `If-Match` and then
/// stores the object in two steps; with preemption a second request could pass the check in
/// between, which S3 itself never allows. Tests of concurrent conditional writes use this one.
pub fn moto_atomic_conditionals() -> Option<Moto> {
    from_env(|p| {
        spawn(
            p,
            &[
                "-c",
                "import sys; sys.setswitchinterval(60); from moto.server import main; main()",
            ],
        )
    })
}

fn from_env(start: impl FnOnce(&Path) -> Moto) -> Option<Moto> {
    match std::env::var("EGRESSWATCH_MOTO_PYTHON") {
        Ok(p) => Some(start(Path::new(&p))),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("EGRESSWATCH_MOTO_PYTHON is not set (scripts/test.sh sets it)")
        }
        Err(_) => {
            eprintln!("note: EGRESSWATCH_MOTO_PYTHON not set; run scripts/test.sh. Skipping.");
            None
        }
    }
}

/// A server run by `python` (a venv with moto installed).
pub fn start(python: &Path) -> Moto {
    spawn(python, &["-m", "moto.server"])
}

/// `python ARGS -H 127.0.0.1 -p PORT` on a free port, once it accepts connections.
fn spawn(python: &Path, args: &[&str]) -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(python)
        .args(args)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(60), "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// The ARN of the queue at `url`.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&A::QueueArn]
        .clone()
}

/// A new bucket `name` whose object creations notify a new queue `<name>-events`; returns the
/// queue URL.
pub async fn notified_bucket(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> String {
    s3.create_bucket().bucket(name).send().await.unwrap();
    let url = sqs
        .create_queue()
        .queue_name(format!("{name}-events"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let qc = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(queue_arn(sqs, &url).await)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(qc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// Messages on the queue, visible or in flight.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let r = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let a = r.attributes().unwrap();
    let n = |k: A| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible)
}

/// The bundled sample flow-log objects, keyed relative to samples/flowlogs (AWS key layouts
/// already), for uploading to a test bucket.
pub fn sample_objects() -> Vec<(String, Vec<u8>)> {
    egresswatch::demo::FLOW_LOGS
        .iter()
        .map(|(name, data)| {
            (
                name.trim_start_matches("samples/flowlogs/").to_string(),
                data.to_vec(),
            )
        })
        .collect()
}
