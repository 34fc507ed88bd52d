//! Classifies the bytes of a text block 64 at a time: which end a token, which end a line, and
//! which make a line unusual.
//!
//! A byte is *special* when it is below `0x21` (space, tab, CR, LF, other control bytes) or not
//! ASCII: one comparison per 16 bytes finds them all. The fast path's line shape is "tokens
//! separated by single spaces, ended by LF"; any other special byte (tab, CR, control, UTF-8)
//! and any two specials in a row (an empty token, a blank line, a leading or trailing blank) is
//! *odd*, and a line with an odd byte goes to the reference parser.

/// Readable bytes the caller keeps after the data of a block (a whole 64-byte load starting at
/// the last newline must stay inside the buffer).
pub const PAD: usize = 64;

/// Bit masks of one 64-byte block (bit i = byte i).
#[derive(Debug, Clone, Copy, Default)]
pub struct Masks {
    pub special: u64,
    pub space: u64,
    pub newline: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn masks(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut m = Masks::default();
    // SAFETY: SSE2 is part of the x86_64 baseline, so the intrinsics are always available;
    // `block` is 64 readable bytes and the loads are unaligned.
    unsafe {
        let lim = _mm_set1_epi8(0x21);
        let sp = _mm_set1_epi8(b' ' as i8);
        let nl = _mm_set1_epi8(b'\n' as i8);
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k) as *const __m128i);
            // Signed compare: bytes >= 0x80 are negative, so they are special too.
            let s = _mm_movemask_epi8(_mm_cmplt_epi8(v, lim)) as u32 as u64;
            let b = _mm_movemask_epi8(_mm_cmpeq_epi8(v, sp)) as u32 as u64;
            let n = _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u32 as u64;
            m.special |= s << (16 * k);
            m.space |= b << (16 * k);
            m.newline |= n << (16 * k);
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn masks(block: &[u8; 64]) -> Masks {
    use super::token::{bytes_below, bytes_eq, movemask};
    let mut m = Masks::default();
    for k in 0..8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&block[8 * k..8 * k + 8]);
        let x = u64::from_le_bytes(w);
        let special = bytes_below(x, 0x21) | (x & 0x8080_8080_8080_8080);
        m.special |= (movemask(special) as u64) << (8 * k);
        m.space |= (movemask(bytes_eq(x, b' ')) as u64) << (8 * k);
        m.newline |= (movemask(bytes_eq(x, b'\n')) as u64) << (8 * k);
    }
    m
}

/// AVX2 version of [`masks`].
///
/// # Safety
/// Only for inlining into a function compiled with AVX2 on a CPU that has it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn masks_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_set1_epi8,
    };
    let mut m = Masks::default();
    // SAFETY: the caller has AVX2; `block` is 64 readable bytes and the loads are unaligned.
    unsafe {
        let lim = _mm256_set1_epi8(0x21);
        let sp = _mm256_set1_epi8(b' ' as i8);
        let nl = _mm256_set1_epi8(b'\n' as i8);
        for k in 0..2 {
            let v = _mm256_loadu_si256(block.as_ptr().add(32 * k) as *const __m256i);
            let s = _mm256_movemask_epi8(_mm256_cmpgt_epi8(lim, v)) as u32 as u64;
            let b = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, sp)) as u32 as u64;
            let n = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nl)) as u32 as u64;
            m.special |= s << (32 * k);
            m.space |= b << (32 * k);
            m.newline |= n << (32 * k);
        }
    }
    m
}

/// Whether this CPU has AVX2 and the bit-manipulation instructions that come with it (BMI1,
/// BMI2, POPCNT, LZCNT: every AVX2 CPU from Haswell and Zen on), checked once, cached by std.
/// Stage 1 is compiled for all of them: without POPCNT its per-block `count_ones` becomes a
/// multiply-and-shift sequence, which the profile showed as a tenth of stage 1.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("lzcnt")
}

/// The 64-byte block at `base` (which must have 64 readable bytes).
#[inline(always)]
pub fn block_at(buf: &[u8], base: usize) -> &[u8; 64] {
    buf[base..base + 64].try_into().expect("64-byte block")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt")]
    unsafe fn masks_avx2_test(block: &[u8; 64]) -> Masks {
        unsafe { masks_avx2(block) }
    }

    #[test]
    fn classifies_every_byte() {
        let mut buf = [0u8; 64];
        for round in 0..4u32 {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = ((i as u32 * 37 + round * 101) % 256) as u8;
            }
            let m = masks(&buf);
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: the CPU has AVX2 (the function is inlined into this test only when
                // compiled with it; otherwise it runs as plain code on the checked CPU).
                let a = unsafe { masks_avx2_test(&buf) };
                assert_eq!(
                    (a.special, a.space, a.newline),
                    (m.special, m.space, m.newline)
                );
            }
            for (i, &c) in buf.iter().enumerate() {
                let bit = |x: u64| x >> i & 1 == 1;
                assert_eq!(bit(m.special), !(0x21..0x80).contains(&c), "{c:#x}");
                assert_eq!(bit(m.space), c == b' ', "{c:#x}");
                assert_eq!(bit(m.newline), c == b'\n', "{c:#x}");
            }
        }
    }
}
