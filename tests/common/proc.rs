//! The egresswatch binary as a child process with a disk fault:
//!
//! - a full disk: `RLIMIT_FSIZE` set in the child (between fork and exec), so a write that would
//!   take a regular file past the limit writes what fits and then fails with `EFBIG`, as a
//!   `write(2)` on a full filesystem stops with `ENOSPC`; `SIGXFSZ` (which would kill the
//!   process first) is ignored, and an ignored signal stays ignored across `exec`;
//! - a read-only folder: the child runs as an unprivileged user (uid/gid 65534, `nobody`),
//!   because root writes through any mode bits; that user must be able to execute the binary,
//!   so it runs a copy in a world-readable temporary folder (the build folder may be under a
//!   private home).
//!
//! Pipes (stdout, stderr) are not regular files, so the limit never hides an error message.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// uid and gid of `nobody`: owns nothing the tests create.
pub const NOBODY: u32 = 65534;

#[derive(Clone, Copy, Default, Debug)]
pub struct Fault {
    /// Largest file size in bytes the child may write (RLIMIT_FSIZE).
    pub fsize: Option<u64>,
    /// Run as this uid/gid (dropping root), so folder permissions apply.
    pub user: Option<u32>,
}

impl Fault {
    pub fn none() -> Fault {
        Fault::default()
    }

    pub fn full_at(bytes: u64) -> Fault {
        Fault {
            fsize: Some(bytes),
            user: None,
        }
    }

    pub fn unprivileged() -> Fault {
        Fault {
            fsize: None,
            user: Some(NOBODY),
        }
    }
}

/// A copy of the binary that any user may execute (made once per test process).
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("egresswatch-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("egresswatch");
        // EGRESSWATCH_TEST_BIN: a binary to use instead of the one cargo built for this test
        // (when several worktrees share one target folder, the built one may be another's).
        let src = std::env::var_os("EGRESSWATCH_TEST_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_egresswatch")),
            PathBuf::from,
        );
        std::fs::copy(&src, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    })
}

/// Whether this process can drop to another user (root, or CAP_SETUID/CAP_SETGID).
pub fn can_switch_user() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `egresswatch` with `fault` applied in the child.
pub fn command(fault: Fault) -> Command {
    let mut c = Command::new(binary());
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (signal, setrlimit, setgroups, setgid, setuid) on values copied in; it
    // allocates nothing.
    unsafe {
        c.pre_exec(move || {
            if let Some(limit) = fault.fsize {
                if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                    return Err(std::io::Error::last_os_error());
                }
                // Only the soft limit: the hard one stays unlimited, so the parent may lift
                // the soft one later (set_fsize) without CAP_SYS_RESOURCE.
                let r = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(id) = fault.user {
                // Groups first, then gid, then uid (after setuid there is no way back).
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(id as libc::gid_t) != 0
                    || libc::setuid(id as libc::uid_t) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    c
}

/// Runs `egresswatch ARGS` with `fault` and `env`, and returns its output.
pub fn run(fault: Fault, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = command(fault);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Makes `path` (a folder) readable and enterable by everyone, and its parents enterable, so an
/// unprivileged child can reach it.
pub fn open_to_all(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Makes `path` (a folder, owned by root) read-only for an unprivileged child.
pub fn read_only(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555)).unwrap();
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Changes the (soft) file size limit of a running child: space "returns" while it runs.
pub fn set_fsize(pid: u32, bytes: Option<u64>) {
    let v = bytes.map_or(libc::RLIM_INFINITY, |b| b as libc::rlim_t);
    let r = libc::rlimit {
        rlim_cur: v,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `r` and writes nothing (the old-limit pointer is null).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &r,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}
