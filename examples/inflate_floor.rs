//! The decompression floor: inflate every `.gz` under the given paths with the same library and
//! backend egresswatch uses (flate2 + zlib-rs, multi-member), into a reused buffer, counting lines.
//! `cargo run --release --example inflate_floor -- [--threads N] PATH...`

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                walk(&e.path(), out);
            }
        }
    } else if p.extension().is_some_and(|x| x == "gz") {
        out.push(p.to_path_buf());
    }
}

fn main() {
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
        walk(Path::new(&args[i]), &mut files);
        i += 1;
    }
    files.sort();
    let next = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let totals: Vec<(u64, u64, u64)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; 1 << 20];
                    let (mut inb, mut outb, mut lines) = (0u64, 0u64, 0u64);
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(k) else { break };
                        let Ok(data) = std::fs::read(f) else { continue };
                        inb += data.len() as u64;
                        let mut d = flate2::read::MultiGzDecoder::new(&data[..]);
                        while let Ok(n) = d.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            outb += n as u64;
                            lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                        }
                    }
                    (inb, outb, lines)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or((0, 0, 0)))
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let (inb, outb, lines) = totals
        .iter()
        .fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2));
    println!("{{\"files\":{},\"bytes_in\":{inb},\"bytes_out\":{outb},\"lines\":{lines},\"seconds\":{secs:.3}}}", files.len());
}
