//! The decompression floor: inflate every `.gz` under the given paths with the same library and
//! backend egresswatch uses (flate2 + zlib-rs, multi-member), into a reused buffer, counting lines.
//! `cargo run --release --example inflate_floor -- [--threads N] PATH...`

use std::io::Read;

#[path = "common/floor.rs"]
mod floor;

fn main() {
    let (threads, files) = floor::args("gz");
    let (totals, secs) = floor::run(&files, threads, |next| {
        let mut buf = vec![0u8; 1 << 20];
        let (mut inb, mut outb, mut lines) = (0u64, 0u64, 0u64);
        while let Some(f) = next() {
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
    });
    let (inb, outb, lines) = totals
        .iter()
        .fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2));
    println!("{{\"files\":{},\"bytes_in\":{inb},\"bytes_out\":{outb},\"lines\":{lines},\"seconds\":{secs:.3}}}", files.len());
}
