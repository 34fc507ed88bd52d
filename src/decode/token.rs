//! Branch-light parsers for the tokens of the fast text path: decimal integers and dotted-quad
//! IPv4 addresses, eight bytes at a time.
//!
//! Every function reads whole 8-byte words at the token's offset, so the caller guarantees that
//! at least [`PAD`] readable bytes follow the token in `buf` (the block buffer keeps that much
//! padding). They only accept what the reference parsers in [`super::values`] and
//! [`crate::net::ip`] accept; anything else returns `None` and the line takes the reference path,
//! which produces the exact error message.

/// Readable bytes the caller keeps after the end of any token.
pub const PAD: usize = 16;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
pub fn load8(buf: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(w)
}

/// High bit of every byte of `x` that is below `n` (n <= 0x80), exactly (no borrow between
/// bytes).
#[inline(always)]
pub fn bytes_below(x: u64, n: u8) -> u64 {
    let t = (x & !HIGHS).wrapping_add(ONES * (0x80 - n as u64));
    !(t | x) & HIGHS
}

/// High bit of every byte of `x` equal to `c`, exactly.
#[inline(always)]
pub fn bytes_eq(x: u64, c: u8) -> u64 {
    bytes_below(x ^ (ONES * c as u64), 1)
}

/// Packs the high bit of each byte into the low 8 bits (bit i = byte i).
#[inline(always)]
pub fn movemask(m: u64) -> u32 {
    (((m >> 7) & ONES).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// Keeps the low `len` bytes (1..=8) of `w`.
#[inline(always)]
fn low_bytes(w: u64, len: usize) -> u64 {
    w & (u64::MAX >> ((8 - len) * 8))
}

/// Value of 1..=8 ASCII digits in the low `len` bytes of `w` (first digit in the lowest byte).
#[inline(always)]
fn digits8(w: u64, len: usize) -> Option<u64> {
    let shift = (8 - len) * 8;
    // Right-align the digits; the vacated low bytes become leading zeros.
    let zeros = 0x3030_3030_3030_3030u64;
    let x = (w << shift) | (zeros & !(u64::MAX << shift));
    let ok = ((x & 0xf0f0_f0f0_f0f0_f0f0) == zeros)
        & ((x.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0) == zeros);
    if !ok {
        return None;
    }
    let mut v = x - zeros;
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    v = ((v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32))
        + ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v)
}

/// Unsigned decimal token `buf[at..at + len]` (1..=19 digits, no sign).
#[inline(always)]
pub fn uint(buf: &[u8], at: usize, len: usize) -> Option<u64> {
    if len <= 8 {
        if len == 0 {
            return None;
        }
        digits8(load8(buf, at), len)
    } else if len <= 16 {
        let hi = digits8(load8(buf, at), len - 8)?;
        let lo = digits8(load8(buf, at + len - 8), 8)?;
        Some(hi * 100_000_000 + lo)
    } else if len <= 19 {
        let mut v: u64 = 0;
        for &c in &buf[at..at + len] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
        }
        // i64 is the widest canonical column.
        (v <= i64::MAX as u64).then_some(v)
    } else {
        None
    }
}

/// Dotted-quad IPv4 token `buf[at..at + len]`, exactly as strict as [`crate::net::ip::parse`]
/// (1-3 digits per octet, each at most 255).
#[inline(always)]
pub fn ipv4(buf: &[u8], at: usize, len: usize) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    if ssse3() {
        // SAFETY: SSSE3 was detected at run time.
        return unsafe { ipv4_ssse3_call(buf, at, len) };
    }
    ipv4_swar(buf, at, len)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
unsafe fn ipv4_ssse3_call(buf: &[u8], at: usize, len: usize) -> Option<u32> {
    // SAFETY: this function is compiled with SSSE3, and its caller checked the CPU has it.
    unsafe { ipv4_ssse3(buf, at, len) }
}

/// Whether this CPU has SSSE3 (every x86_64 CPU since 2006; checked once, cached by std).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn ssse3() -> bool {
    std::arch::is_x86_feature_detected!("ssse3")
}

/// Shuffle masks for [`ipv4_ssse3`], one per combination of octet lengths (1-3 each): they
/// place each octet's digits as `[0, hundreds, tens, ones]` in a 4-byte lane (0x80 = zero).
#[cfg(target_arch = "x86_64")]
const IPV4_SHUFFLES: [[u8; 16]; 81] = {
    let mut t = [[0x80u8; 16]; 81];
    let mut idx = 0;
    while idx < 81 {
        let lens = [idx / 27 + 1, idx / 9 % 3 + 1, idx / 3 % 3 + 1, idx % 3 + 1];
        let mut start = 0;
        let mut o = 0;
        while o < 4 {
            let l = lens[o];
            let mut d = 0;
            while d < l {
                // Digit d of an l-digit octet goes to lane slot 4 - l + d.
                t[idx][o * 4 + 4 - l + d] = (start + d) as u8;
                d += 1;
            }
            start += l + 1;
            o += 1;
        }
        idx += 1;
    }
    t
};

/// IPv4 with SSSE3: classify 16 bytes at once, then one shuffle and two multiply-adds turn the
/// digits into the four octets (after Muła and Lemire's "parsing IP addresses crazily fast").
///
/// # Safety
/// Only for inlining into a function compiled with SSSE3 (`#[target_feature(enable =
/// "ssse3")]`) on a CPU that has it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn ipv4_ssse3(buf: &[u8], at: usize, len: usize) -> Option<u32> {
    use std::arch::x86_64::*;
    if !(7..=15).contains(&len) {
        return None;
    }
    let bytes: &[u8; 16] = buf[at..at + 16].try_into().ok()?;
    // SAFETY (whole body): SSSE3 is enabled for this function; `bytes` is 16 readable bytes.
    let v = unsafe { _mm_loadu_si128(bytes.as_ptr() as *const __m128i) };
    let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
    let is_digit = _mm_and_si128(
        _mm_cmpgt_epi8(d, _mm_set1_epi8(-1)),
        _mm_cmplt_epi8(d, _mm_set1_epi8(10)),
    );
    let is_dot = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
    let full = (1u32 << len) - 1;
    let digits = _mm_movemask_epi8(is_digit) as u32 & full;
    let dots = _mm_movemask_epi8(is_dot) as u32 & full;
    if digits | dots != full || dots.count_ones() != 3 {
        return None;
    }
    let d1 = dots.trailing_zeros() as usize;
    let r = dots & (dots - 1);
    let d2 = r.trailing_zeros() as usize;
    let d3 = (r & (r - 1)).trailing_zeros() as usize;
    let (l1, l2, l3, l4) = (d1, d2 - d1 - 1, d3 - d2 - 1, len - d3 - 1);
    if !(1..=3).contains(&l1)
        || !(1..=3).contains(&l2)
        || !(1..=3).contains(&l3)
        || !(1..=3).contains(&l4)
    {
        return None;
    }
    let idx = (l1 - 1) * 27 + (l2 - 1) * 9 + (l3 - 1) * 3 + (l4 - 1);
    let shuf = unsafe { _mm_loadu_si128(IPV4_SHUFFLES[idx].as_ptr() as *const __m128i) };
    let lanes = _mm_shuffle_epi8(d, shuf);
    let weights = _mm_setr_epi8(0, 100, 10, 1, 0, 100, 10, 1, 0, 100, 10, 1, 0, 100, 10, 1);
    let pairs = _mm_maddubs_epi16(lanes, weights);
    let octets = _mm_madd_epi16(pairs, _mm_set1_epi16(1));
    if _mm_movemask_epi8(_mm_cmpgt_epi32(octets, _mm_set1_epi32(255))) != 0 {
        return None;
    }
    // Lane i holds octet i in its low byte: gather them big-endian into one u32.
    let be = _mm_shuffle_epi8(
        octets,
        _mm_setr_epi8(
            12, 8, 4, 0, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
        ),
    );
    Some(_mm_cvtsi128_si32(be) as u32)
}

/// Portable IPv4: eight bytes at a time.
#[inline(always)]
fn ipv4_swar(buf: &[u8], at: usize, len: usize) -> Option<u32> {
    if !(7..=15).contains(&len) {
        return None;
    }
    // Branch-free split into the first eight bytes and the (possibly empty) rest.
    let na = len.min(8);
    let nb = len - na;
    let a = low_bytes(load8(buf, at), na);
    let b = load8(buf, at + 8) & ((1u64 << (nb * 8)) - 1);
    let dots = movemask(bytes_eq(a, b'.')) | (movemask(bytes_eq(b, b'.')) << 8);
    let digits = movemask(bytes_below(a ^ 0x3030_3030_3030_3030, 10))
        | (movemask(bytes_below(b ^ 0x3030_3030_3030_3030, 10)) << 8);
    let full = (1u32 << len) - 1;
    if dots.count_ones() != 3 || (dots | digits) & full != full || dots & digits != 0 {
        return None;
    }
    let d1 = dots.trailing_zeros() as usize;
    let rest = dots & (dots - 1);
    let d2 = rest.trailing_zeros() as usize;
    let d3 = (rest & (rest - 1)).trailing_zeros() as usize;
    let o1 = octet(buf, at, d1)?;
    let o2 = octet(buf, at + d1 + 1, d2 - d1 - 1)?;
    let o3 = octet(buf, at + d2 + 1, d3 - d2 - 1)?;
    let o4 = octet(buf, at + d3 + 1, len - d3 - 1)?;
    Some((o1 << 24) | (o2 << 16) | (o3 << 8) | o4)
}

/// 1-3 digits already known to be digits.
#[inline(always)]
fn octet(buf: &[u8], at: usize, len: usize) -> Option<u32> {
    if len == 0 || len > 3 {
        return None;
    }
    let d = |i: usize| (buf[at + i].wrapping_sub(b'0')) as u32;
    let v = match len {
        1 => d(0),
        2 => d(0) * 10 + d(1),
        _ => d(0) * 100 + d(1) * 10 + d(2),
    };
    (v <= 255).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(s: &[u8]) -> Vec<u8> {
        let mut v = s.to_vec();
        v.extend_from_slice(&[b'7'; PAD]);
        v
    }

    #[test]
    fn masks_are_exact() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b'a', b, 0xff, b, 0x00, b, b'9', b]);
            let eq = movemask(bytes_eq(x, b' '));
            let want: u32 = [b'a', b, 0xff, b, 0x00, b, b'9', b]
                .iter()
                .enumerate()
                .map(|(i, &c)| ((c == b' ') as u32) << i)
                .sum();
            assert_eq!(eq, want, "byte {b}");
            let lt = movemask(bytes_below(x, 0x21));
            let want: u32 = [b'a', b, 0xff, b, 0x00, b, b'9', b]
                .iter()
                .enumerate()
                .map(|(i, &c)| ((c < 0x21) as u32) << i)
                .sum();
            assert_eq!(lt, want, "byte {b}");
        }
    }

    #[test]
    fn integers_match_the_reference_parser() {
        for s in [
            "0",
            "7",
            "42",
            "443",
            "65535",
            "1418530070",
            "12345678",
            "123456789",
            "9999999999999999",
            "12345678901234567",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999",
            "12a",
            "1-2",
            "/",
            ":",
            "",
        ] {
            let buf = padded(s.as_bytes());
            let want = super::super::values::parse_int(s.as_bytes())
                .ok()
                .map(|v| v as u64);
            assert_eq!(uint(&buf, 0, s.len()), want, "{s:?}");
        }
    }

    #[test]
    fn ipv4_every_octet_shape() {
        let octets = [
            "0", "7", "10", "99", "100", "255", "256", "999", "042", "00",
        ];
        let mut buf = Vec::new();
        for a in octets {
            for b in octets {
                for c in ["1", "25", "250"] {
                    for d in octets {
                        let s = format!("{a}.{b}.{c}.{d}");
                        buf.clear();
                        buf.extend_from_slice(s.as_bytes());
                        buf.extend_from_slice(b" 1.2.3.4 9999999999");
                        let want = crate::net::ip::parse(s.as_bytes()).map(|k| k as u32);
                        assert_eq!(ipv4(&buf, 0, s.len()), want, "{s}");
                        assert_eq!(ipv4_swar(&buf, 0, s.len()), want, "{s}");
                    }
                }
            }
        }
    }

    #[test]
    fn ipv4_matches_the_reference_parser() {
        let cases = [
            "10.20.1.21",
            "0.0.0.0",
            "255.255.255.255",
            "52.216.135.7",
            "1.2.3.4",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.",
            ".1.2.3",
            "1.2.3.4x",
            "001.002.003.004",
            "1234.1.1.1",
            "a.b.c.d",
            "1.2.3.4444",
            "2001:db8::1",
        ];
        for s in cases {
            let buf = padded(s.as_bytes());
            let want = crate::net::ip::parse(s.as_bytes())
                .filter(|&k| crate::net::ip::is_v4(k))
                .map(|k| k as u32);
            assert_eq!(ipv4(&buf, 0, s.len()), want, "{s:?}");
            assert_eq!(ipv4_swar(&buf, 0, s.len()), want, "{s:?}");
        }
        // Every octet length combination, at every alignment.
        for off in 0..8 {
            for a in [0u32, 7, 42, 255] {
                for b in [1u32, 99, 200] {
                    let s = format!("{a}.{b}.{}.{}", (a + b) % 256, (a * 3) % 256);
                    let mut buf = vec![b'x'; off];
                    buf.extend_from_slice(s.as_bytes());
                    buf.extend_from_slice(&[b'.'; PAD]);
                    let want = crate::net::ip::parse(s.as_bytes()).map(|k| k as u32);
                    assert_eq!(ipv4(&buf, off, s.len()), want, "{s} at {off}");
                    assert_eq!(ipv4_swar(&buf, off, s.len()), want, "{s} at {off}");
                }
            }
        }
    }
}
