//! Runs the egresswatch binary as a child process under a memory limit (`setrlimit(RLIMIT_AS)`
//! in `pre_exec`), so an input that would make it allocate without bound ends in an allocation
//! failure (abort, a signal) instead of a slow swap or an OOM kill of the test runner.
//!
//! The limit is chosen from a measured baseline: the smallest address-space limit (on a ladder)
//! under which a normal run of the same command succeeds, plus a fixed headroom. RLIMIT_AS
//! counts reserved virtual memory (thread stacks, allocator arenas), not just what is touched, so
//! a constant cannot be guessed; `MALLOC_ARENA_MAX=2` keeps glibc's per-thread arena reservations
//! from making it depend on the thread count.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};

pub const MIB: u64 = 1 << 20;

pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exited by itself (any code) rather than killed by a signal (SIGABRT on an allocation
    /// failure, SIGKILL from the OOM killer, SIGSEGV on stack exhaustion).
    pub fn exited_normally(&self) -> bool {
        self.status.code().is_some()
    }

    pub fn describe(&self) -> String {
        format!(
            "status {:?} (signal {:?})\nstdout: {}\nstderr: {}",
            self.status.code(),
            self.status.signal(),
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

fn tail(s: &str) -> &str {
    let cut = s.len().saturating_sub(4000);
    let cut = (cut..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[cut..]
}

/// The binary under test. `EGRESSWATCH_TEST_BIN` overrides cargo's path: worktrees that share
/// one `CARGO_TARGET_DIR` also share its uplifted `target/debug/egresswatch`, which another
/// worktree's build may replace while these tests run.
pub fn bin() -> String {
    std::env::var("EGRESSWATCH_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_egresswatch").to_string())
}

/// Runs `egresswatch ARGS` with `envs`, under an address-space limit of `limit` bytes if given.
pub fn run(args: &[&str], envs: &[(&str, &str)], limit: Option<u64>) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("MALLOC_ARENA_MAX", "2")
        .env_remove("EGRESSWATCH_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    if let Some(bytes) = limit {
        // SAFETY: pre_exec runs in the forked child before exec; setrlimit is async-signal-safe
        // and touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().expect("start egresswatch");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The smallest limit on a ladder (64 MiB steps from 128 MiB to 8 GiB) under which `args`
/// succeeds, found by bisection over the ladder (a run that fails is always a lower rung).
pub fn baseline(args: &[&str], envs: &[(&str, &str)]) -> u64 {
    let ok = |lim: u64| run(args, envs, Some(lim)).status.success();
    let (mut lo, mut hi) = (2u64, 128u64); // rungs of 64 MiB
    assert!(
        ok(hi * 64 * MIB),
        "a normal run does not fit in 8 GiB: {}",
        run(args, envs, Some(hi * 64 * MIB)).describe()
    );
    if ok(lo * 64 * MIB) {
        return lo * 64 * MIB;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if ok(mid * 64 * MIB) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi * 64 * MIB
}

/// The limit for an oversized-input run: the normal run's baseline plus `headroom`, well below
/// what reading the oversized input whole would need.
pub fn limit_for(args: &[&str], envs: &[(&str, &str)], headroom: u64) -> u64 {
    let b = baseline(args, envs);
    let lim = b + headroom;
    eprintln!(
        "memlimit: baseline {} MiB, limit {} MiB for {:?}",
        b / MIB,
        lim / MIB,
        args.first()
    );
    lim
}
