//! Line iteration with a hard length bound. Lines that sit wholly inside the reader's buffer are
//! handed out in place (no copy); only a line split across two buffer fills is assembled in a
//! reused carry buffer. An over-long line is consumed and reported instead of growing memory.

use std::io::{self, BufRead};

pub enum Line<'a> {
    Text(&'a [u8]),
    /// A line longer than the bound; its bytes were discarded. Carries the length seen.
    TooLong(usize),
}

pub struct LineReader<R> {
    inner: R,
    carry: Vec<u8>,
    carry_len: usize,
    max: usize,
    line_no: u64,
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            carry: Vec::with_capacity(4096),
            carry_len: 0,
            max,
            line_no: 0,
        }
    }

    /// Calls `f(line_no, line)` for every line (1-based numbers). Stops at the first error of
    /// `f` (returned as `Ok(Err(e))`) or of the reader (`Err`).
    pub fn for_each<E>(
        &mut self,
        mut f: impl FnMut(u64, Line<'_>) -> Result<(), E>,
    ) -> io::Result<Result<(), E>> {
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if self.carry_len > 0 {
                    self.line_no += 1;
                    let r = self.emit_carry(&mut f);
                    if r.is_err() {
                        return Ok(r);
                    }
                }
                return Ok(Ok(()));
            }
            let len = avail.len();
            let mut pos = 0;
            if self.carry_len > 0 {
                // Finish the line begun in the previous fill.
                match memchr::memchr(b'\n', avail) {
                    Some(i) => {
                        push_bounded(&mut self.carry, &mut self.carry_len, &avail[..i], self.max);
                        self.line_no += 1;
                        let r =
                            Self::emit(&self.carry, self.carry_len, self.max, self.line_no, &mut f);
                        self.carry.clear();
                        self.carry_len = 0;
                        if r.is_err() {
                            self.inner.consume(i + 1);
                            return Ok(r);
                        }
                        pos = i + 1;
                    }
                    None => {
                        push_bounded(&mut self.carry, &mut self.carry_len, avail, self.max);
                        self.inner.consume(len);
                        continue;
                    }
                }
            }
            let mut result = Ok(());
            let base = pos;
            for i in memchr::memchr_iter(b'\n', &avail[base..]) {
                let line = &avail[pos..base + i];
                self.line_no += 1;
                result = if line.len() > self.max {
                    f(self.line_no, Line::TooLong(line.len()))
                } else {
                    f(self.line_no, Line::Text(trim_cr(line)))
                };
                pos = base + i + 1;
                if result.is_err() {
                    break;
                }
            }
            if result.is_err() {
                self.inner.consume(pos);
                return Ok(result);
            }
            push_bounded(
                &mut self.carry,
                &mut self.carry_len,
                &avail[pos..],
                self.max,
            );
            self.inner.consume(len);
        }
    }

    fn emit_carry<E>(
        &mut self,
        f: &mut impl FnMut(u64, Line<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let r = Self::emit(&self.carry, self.carry_len, self.max, self.line_no, f);
        self.carry.clear();
        self.carry_len = 0;
        r
    }

    fn emit<E>(
        carry: &[u8],
        carry_len: usize,
        max: usize,
        line_no: u64,
        f: &mut impl FnMut(u64, Line<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if carry_len > max {
            f(line_no, Line::TooLong(carry_len))
        } else {
            f(line_no, Line::Text(trim_cr(carry)))
        }
    }
}

/// Appends to the carry while it is within the bound; always counts the length.
fn push_bounded(carry: &mut Vec<u8>, carry_len: &mut usize, bytes: &[u8], max: usize) {
    if *carry_len + bytes.len() <= max {
        carry.extend_from_slice(bytes);
    }
    *carry_len += bytes.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize, cap: usize) -> Vec<String> {
        let mut r = LineReader::new(io::BufReader::with_capacity(cap, input), max);
        let mut out = Vec::new();
        r.for_each(|n, l| {
            out.push(match l {
                Line::Text(t) => format!("{n}:{}", String::from_utf8_lossy(t)),
                Line::TooLong(len) => format!("{n}:<{len}>"),
            });
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        out
    }

    #[test]
    fn splits_and_bounds_whatever_the_buffer_size() {
        for cap in [1, 2, 3, 5, 8, 64, 4096] {
            assert_eq!(
                collect(b"ab\r\ncd\n\nlast", 10, cap),
                ["1:ab", "2:cd", "3:", "4:last"],
                "cap {cap}"
            );
            assert_eq!(
                collect(b"short\n0123456789abc\nok\n", 10, cap),
                ["1:short", "2:<13>", "3:ok"],
                "cap {cap}"
            );
            assert!(collect(b"", 10, cap).is_empty());
            assert_eq!(collect(b"0123456789abc", 10, cap), ["1:<13>"], "cap {cap}");
        }
    }

    #[test]
    fn callback_errors_stop_iteration() {
        let mut r = LineReader::new(io::BufReader::with_capacity(4, &b"a\nb\nc\n"[..]), 10);
        let mut seen = 0;
        let res = r.for_each(|n, _| {
            seen += 1;
            if n == 2 {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(res.unwrap(), Err("stop"));
        assert_eq!(seen, 2);
    }
}
