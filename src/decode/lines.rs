//! A line reader with a hard length bound: one reused buffer, no allocation per line, and an
//! over-long line is consumed and reported instead of growing memory without limit.

use std::io::{self, BufRead};

pub enum Line<'a> {
    Text(&'a [u8]),
    /// A line longer than the bound; its bytes were discarded. Carries the length seen.
    TooLong(usize),
}

pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
    line_no: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(4096),
            max,
            line_no: 0,
        }
    }

    /// 1-based number of the line last returned.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut seen = 0usize;
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk, consumed, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            if seen + chunk.len() <= self.max {
                self.buf.extend_from_slice(chunk);
            }
            seen += chunk.len();
            self.inner.consume(consumed);
            if done {
                break;
            }
        }
        self.line_no += 1;
        if seen > self.max {
            return Ok(Some(Line::TooLong(seen)));
        }
        let mut line = &self.buf[..];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        Ok(Some(Line::Text(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::new(io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Line::TooLong(n) => format!("<{n}>"),
            });
        }
        out
    }

    #[test]
    fn splits_and_bounds() {
        assert_eq!(collect(b"ab\r\ncd\n\nlast", 10), ["ab", "cd", "", "last"]);
        assert_eq!(
            collect(b"short\n0123456789abc\nok\n", 10),
            ["short", "<13>", "ok"]
        );
        assert!(collect(b"", 10).is_empty());
    }
}
