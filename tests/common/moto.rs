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
