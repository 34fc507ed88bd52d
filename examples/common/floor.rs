//! What the two floor examples share: `[--threads N] PATH...` arguments, the files under the
//! paths with one extension (sorted), and a run over them with N threads taking files in turn.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn walk(p: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                walk(&e.path(), ext, out);
            }
        }
    } else if p.extension().is_some_and(|x| x == ext) {
        out.push(p.to_path_buf());
    }
}

/// The command line's thread count (default 1) and the files ending `.ext` under its paths.
pub fn args(ext: &str) -> (usize, Vec<PathBuf>) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 1usize;
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--threads" {
            threads = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(1);
            i += 2;
            continue;
        }
        walk(Path::new(&args[i]), ext, &mut files);
        i += 1;
    }
    files.sort();
    (threads.max(1), files)
}

/// Runs `work` on `threads` threads, each calling it with a function that hands out the next
/// untaken file; returns every thread's result and the wall-clock seconds.
pub fn run<'a, T: Send>(
    files: &'a [PathBuf],
    threads: usize,
    work: impl Fn(&mut dyn FnMut() -> Option<&'a PathBuf>) -> T + Sync,
) -> (Vec<T>, f64) {
    let next = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let out = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut take = || files.get(next.fetch_add(1, Ordering::Relaxed));
                    work(&mut take)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    (out, started.elapsed().as_secs_f64())
}
