//! The fast text path: a chunk of lines is indexed once (stage 1), then each field is parsed
//! for every line of the chunk in one tight pass over its column (stage 2).
//!
//! Stage 1 classifies the chunk's bytes 64 at a time ([`super::split`]) and records the
//! position of every separator and line end. A line is *fast* when its shape is canonical:
//! exactly the layout's number of tokens, single spaces, LF, ASCII, within the length limit, and
//! not a possible header. Stage 2 runs one loop per field, so each loop parses one kind of
//! value with predictable branches; a value it cannot parse marks its line *bad*. The caller
//! hands every line that is not fast, or bad, to the reference parser in its place.

use super::columns::{ip_cell, Columns, Prim};
use super::split::{block_at, masks, Masks, PAD};
use super::token;
use super::values;
use crate::net::ip;
use crate::schema::Kind;

/// What stage 2 does with one field.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// A string that is not projected: a token must be there, any text is valid.
    Skip,
    /// Not projected, but its value must still be valid (every line is checked in full,
    /// whatever the projection).
    Check(Kind),
    I32(u8),
    I64(u8),
    U8(u8),
    U16(u8),
    Ip(u8),
    Dict(u8),
    /// An enumerated field stored as its code (`None`: checked, not stored; the log status is
    /// always read, for the NODATA/SKIPDATA counts).
    Enum(Kind, Option<u8>),
}

/// How stage 1 treats a line that begins with a lower-case letter or `$`, as a header does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRule {
    /// Data lines of the layout never begin so: such a line ends the chunk.
    Stop,
    /// Data may begin with a letter (a string or direction first): only a line made of
    /// name-shaped tokens ends the chunk.
    NameShaped,
}

/// Stage 1's output for one chunk.
#[derive(Debug, Default)]
pub struct Index {
    /// `sp[0]` is the position before the chunk; then every special byte of the chunk.
    sp: Vec<u32>,
    /// Position of the newline of every line of the chunk.
    pub nl: Vec<u32>,
    /// Per line: whether stage 1 found it fast.
    pub fast: Vec<bool>,
    /// Fast lines: how many, and whether they are all the chunk's lines (then line `m`'s
    /// tokens are `sp[m * n..=m * n + n]`); otherwise `packed` holds, per fast line, the
    /// position before the line and its `n` separators.
    rows: usize,
    regular: bool,
    packed: Vec<u32>,
    n: usize,
    /// Odd bytes per block (see [`super::split`]), for locating the lines that hold them.
    odd: Vec<u64>,
}

/// Only name-shaped tokens: the line may be a header, which the reference path must see.
fn header_shaped(line: &[u8]) -> bool {
    line.iter().all(|&c| {
        matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'$' | b'{' | b'}' | b' ' | b'\t' | b'\r')
    })
}

/// Appends the positions of the set bits of `mask` (bit i = `base + i`) to `out`.
#[inline(always)]
fn flatten(out: &mut Vec<u32>, base: usize, mask: u64) {
    let count = mask.count_ones() as usize;
    out.reserve(64 + 4);
    let spare = &mut out.spare_capacity_mut()[..68];
    let mut m = mask;
    let mut n = 0;
    // Four positions per round, written unconditionally: slots past `count` (from an exhausted
    // mask) are scratch and not kept, so the loop has one branch per four bits.
    while n < count {
        for slot in &mut spare[n..n + 4] {
            slot.write((base + m.trailing_zeros() as usize) as u32);
            m &= m.wrapping_sub(1);
        }
        n += 4;
    }
    // SAFETY: the first `count` spare slots were initialised (count <= 64 < 68).
    unsafe { out.set_len(out.len() + count) };
}

/// How stage 1 classifies a block: the portable or SSE2 masks, or AVX2 inside
/// [`Index::build_avx2`].
trait Classify {
    fn masks(block: &[u8; 64]) -> Masks;
}

struct Baseline;
impl Classify for Baseline {
    #[inline(always)]
    fn masks(block: &[u8; 64]) -> Masks {
        masks(block)
    }
}

#[cfg(target_arch = "x86_64")]
struct Avx2;
#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn masks(block: &[u8; 64]) -> Masks {
        // SAFETY: only used inside `Index::build_avx2`, compiled with the features
        // `split::avx2` checks, and called once the CPU was checked.
        unsafe { super::split::masks_avx2(block) }
    }
}

impl Index {
    /// Fast lines indexed.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Line `j`'s bytes, without its newline.
    pub fn line(&self, j: usize) -> (usize, usize) {
        let start = if j == 0 {
            self.sp[0].wrapping_add(1)
        } else {
            self.nl[j - 1] + 1
        };
        (start as usize, self.nl[j] as usize)
    }

    /// Indexes the lines of `buf[start..=end]` (`buf[end]` is a newline, and [`PAD`] readable
    /// bytes follow it). Keeps at most `max_lines` lines, and stops after a possible header.
    /// Returns the position after the last line kept.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        n: usize,
        max_len: usize,
        max_lines: usize,
        rule: HeaderRule,
    ) -> usize {
        assert!(buf.len() >= end + PAD && n > 0);
        #[cfg(target_arch = "x86_64")]
        if super::split::avx2() {
            // SAFETY: the CPU has AVX2, BMI1, BMI2, POPCNT and LZCNT.
            return unsafe { self.build_avx2(buf, start, end, n, max_len, max_lines, rule) };
        }
        self.build_with::<Baseline>(buf, start, end, n, max_len, max_lines, rule)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn build_avx2(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        n: usize,
        max_len: usize,
        max_lines: usize,
        rule: HeaderRule,
    ) -> usize {
        self.build_with::<Avx2>(buf, start, end, n, max_len, max_lines, rule)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn build_with<C: Classify>(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        n: usize,
        max_len: usize,
        max_lines: usize,
        rule: HeaderRule,
    ) -> usize {
        self.n = n;
        self.sp.clear();
        self.nl.clear();
        self.odd.clear();
        self.sp.push((start as u32).wrapping_sub(1));
        let first_block = start & !63;
        let mut base = first_block;
        // The byte before `start` ends a line, so a blank at `start` is odd.
        let mut prev_special = 1u64 << (start - first_block);
        let mut any_odd = 0;
        while base <= end {
            let m = C::masks(block_at(buf, base));
            let mut keep = u64::MAX;
            if base < start {
                keep &= u64::MAX << (start - base);
            }
            if end - base < 63 {
                keep &= u64::MAX >> (63 - (end - base));
            }
            let special = m.special & keep;
            let adjacent = special & ((special << 1) | prev_special);
            prev_special = special >> 63;
            let odd = (special & !(m.space | m.newline)) | adjacent;
            any_odd |= odd;
            self.odd.push(odd);
            flatten(&mut self.sp, base, special);
            flatten(&mut self.nl, base, m.newline & keep);
            base += 64;
        }
        self.nl.truncate(max_lines.max(1));
        self.fast.clear();
        self.packed.clear();
        let mut b = 0usize;
        let mut kept = self.nl.len();
        let mut rows = 0;
        for j in 0..self.nl.len() {
            let e = self.nl[j];
            let ls = self.sp[b].wrapping_add(1) as usize;
            let shaped = self.sp.get(b + n) == Some(&e);
            let mut fast = shaped && e as usize - ls <= max_len;
            let mut first = buf[ls];
            if first == b' ' || first == b'\t' {
                // The reference path looks for a header past leading blanks, so the chunk must
                // end at such a line too: otherwise the header changes the layout half-way
                // through a chunk that stage 2 already parses with the old one (found by
                // fuzz/text_differential). Only lines that begin with a blank pay for this.
                first = buf[ls..e as usize]
                    .iter()
                    .copied()
                    .find(|&c| c != b' ' && c != b'\t')
                    .unwrap_or(b' ');
            }
            if (first.is_ascii_lowercase() || first == b'$')
                && (rule == HeaderRule::Stop || header_shaped(&buf[ls..e as usize]))
            {
                // Possibly a header: it may change the layout of every later line, so it
                // ends the chunk and the reference path decides.
                self.fast.push(false);
                kept = j + 1;
                break;
            }
            if fast && any_odd != 0 {
                fast = !self.has_odd(first_block, ls, e as usize);
            }
            self.fast.push(fast);
            if fast {
                rows += 1;
            }
            if shaped {
                b += n;
            } else {
                // Find this line's newline among the specials (a few entries on).
                b += 1;
                while self.sp[b] != e {
                    b += 1;
                }
            }
        }
        self.nl.truncate(kept);
        self.rows = rows;
        self.regular = rows == kept;
        if !self.regular {
            // Pack the fast lines' separators so stage 2 sees a regular stride.
            let mut b = 0usize;
            for j in 0..kept {
                let e = self.nl[j];
                if self.fast[j] {
                    self.packed.extend_from_slice(&self.sp[b..=b + n]);
                }
                b += 1;
                while self.sp[b] != e {
                    b += 1;
                }
            }
        }
        self.nl[kept - 1] as usize + 1
    }

    fn has_odd(&self, first_block: usize, from: usize, to: usize) -> bool {
        let (bf, bt) = ((from - first_block) / 64, (to - first_block) / 64);
        (bf..=bt).any(|k| {
            let lo = first_block + k * 64;
            let mut m = self.odd[k];
            if lo < from {
                m &= u64::MAX << (from - lo);
            }
            if to - lo < 63 {
                m &= u64::MAX >> (63 - (to - lo));
            }
            m != 0
        })
    }

    /// Separator table and stride: field `k` of fast line `m` lies between entries
    /// `m * stride + k` and `m * stride + k + 1`.
    #[inline(always)]
    fn table(&self) -> (&[u32], usize) {
        if self.regular {
            (&self.sp, self.n)
        } else {
            (&self.packed, self.n + 1)
        }
    }

    /// Calls `f(m, start, len)` with field `k` of every fast line `m`, in order.
    #[inline(always)]
    fn each(&self, k: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (t, stride) = self.table();
        for m in 0..self.rows {
            let i = m * stride + k;
            let s = t[i].wrapping_add(1) as usize;
            f(m, s, t[i + 1] as usize - s);
        }
    }
}

/// How one kind of token becomes a column value.
trait Cell {
    type Out: arrow_buffer::ArrowNativeType;
    /// `Ok(Some(v))` a value, `Ok(None)` a null (`-`), `Err(())` a value it cannot read.
    fn parse(buf: &[u8], s: usize, len: usize) -> Result<Option<Self::Out>, ()>;
}

#[inline(always)]
fn dash(buf: &[u8], s: usize, len: usize) -> bool {
    len == 1 && buf[s] == b'-'
}

macro_rules! int_cell {
    ($name:ident, $t:ty) => {
        struct $name;
        impl Cell for $name {
            type Out = $t;
            #[inline(always)]
            fn parse(buf: &[u8], s: usize, len: usize) -> Result<Option<$t>, ()> {
                match token::uint(buf, s, len) {
                    Some(v) if v <= <$t>::MAX as u64 => Ok(Some(v as $t)),
                    _ if dash(buf, s, len) => Ok(None),
                    _ => match slow_int(&buf[s..s + len]) {
                        Some(v) if v >= <$t>::MIN as i64 && v <= <$t>::MAX as i64 => {
                            Ok(Some(v as $t))
                        }
                        _ => Err(()),
                    },
                }
            }
        }
    };
}
int_cell!(I32Cell, i32);
int_cell!(I64Cell, i64);
int_cell!(U8Cell, u8);
int_cell!(U16Cell, u16);

struct IpCell;
impl Cell for IpCell {
    type Out = i128;
    #[inline(always)]
    fn parse(buf: &[u8], s: usize, len: usize) -> Result<Option<i128>, ()> {
        if let Some(v4) = token::ipv4(buf, s, len) {
            return Ok(Some(ip_cell(ip::from_v4(v4))));
        }
        if dash(buf, s, len) {
            return Ok(None);
        }
        slow_ip(&buf[s..s + len])
            .map(|k| Some(ip_cell(k)))
            .ok_or(())
    }
}

#[cold]
fn slow_ip(tok: &[u8]) -> Option<ip::IpKey> {
    ip::parse(tok)
}

/// IPv4 by SSSE3 (inlined into [`ip_pass_ssse3`]), other addresses as [`IpCell`] does.
#[cfg(target_arch = "x86_64")]
struct IpCellSsse3;
#[cfg(target_arch = "x86_64")]
impl Cell for IpCellSsse3 {
    type Out = i128;
    #[inline(always)]
    fn parse(buf: &[u8], s: usize, len: usize) -> Result<Option<i128>, ()> {
        // SAFETY: only used by `ip_pass_ssse3`, compiled with SSSE3 and called once the CPU
        // was checked.
        if let Some(v4) = unsafe { token::ipv4_ssse3(buf, s, len) } {
            return Ok(Some(ip_cell(ip::from_v4(v4))));
        }
        if dash(buf, s, len) {
            return Ok(None);
        }
        slow_ip(&buf[s..s + len])
            .map(|k| Some(ip_cell(k)))
            .ok_or(())
    }
}

/// The address pass with SSSE3 enabled, so the vector parser inlines into the loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
unsafe fn ip_pass_ssse3(c: &mut Prim<i128>, ix: &Index, k: usize, buf: &[u8], bad: &mut [bool]) {
    pass_impl::<IpCellSsse3>(c, ix, k, buf, bad)
}

/// Appends field `k` of every fast line of `ix`, parsed by `C`, to `c`; lines it cannot read
/// are marked in `bad` and get a placeholder.
#[inline(never)]
fn pass<C: Cell>(c: &mut Prim<C::Out>, ix: &Index, k: usize, buf: &[u8], bad: &mut [bool]) {
    pass_impl::<C>(c, ix, k, buf, bad)
}

#[inline(always)]
fn pass_impl<C: Cell>(c: &mut Prim<C::Out>, ix: &Index, k: usize, buf: &[u8], bad: &mut [bool]) {
    let row0 = c.len();
    let rows = ix.rows();
    c.values.reserve(rows);
    let mut nulls = Vec::new();
    let spare = &mut c.values.spare_capacity_mut()[..rows];
    let (t, stride) = ix.table();
    let bad = &mut bad[..rows];
    for m in 0..rows {
        let i = m * stride + k;
        let s = t[i].wrapping_add(1) as usize;
        let len = t[i + 1] as usize - s;
        let v = match C::parse(buf, s, len) {
            Ok(Some(v)) => v,
            Ok(None) => {
                nulls.push(row0 + m);
                C::Out::default()
            }
            Err(()) => {
                bad[m] = true;
                C::Out::default()
            }
        };
        spare[m].write(v);
    }
    // SAFETY: the loop initialised all `rows` spare slots.
    unsafe { c.values.set_len(row0 + rows) };
    c.set_nulls(&nulls);
}

/// Validates field `k` of every fast line without storing it. One loop per kind, so the
/// validity test inlines into it (a function pointer per token cost more than the test).
#[inline(never)]
fn check_pass(kind: Kind, k: usize, buf: &[u8], ix: &Index, bad: &mut [bool]) {
    fn cells<C: Cell>(k: usize, buf: &[u8], ix: &Index, bad: &mut [bool]) {
        ix.each(k, |m, s, len| {
            if C::parse(buf, s, len).is_err() {
                bad[m] = true;
            }
        });
    }
    fn codes(kind: Kind, k: usize, buf: &[u8], ix: &Index, bad: &mut [bool]) {
        ix.each(k, |m, s, len| {
            if enum_code(kind, buf, s, len).is_none() && !dash(buf, s, len) {
                bad[m] = true;
            }
        });
    }
    match kind {
        Kind::I32 => cells::<I32Cell>(k, buf, ix, bad),
        Kind::I64 => cells::<I64Cell>(k, buf, ix, bad),
        Kind::U8 => cells::<U8Cell>(k, buf, ix, bad),
        Kind::U16 => cells::<U16Cell>(k, buf, ix, bad),
        Kind::Ip => cells::<IpCell>(k, buf, ix, bad),
        Kind::Action | Kind::LogStatus | Kind::Direction => codes(kind, k, buf, ix, bad),
        Kind::Str => {}
    }
}

/// An integer token as the reference parser reads it, for the rare shapes the word-at-a-time
/// parser leaves (a sign, more than 19 digits).
#[cold]
fn slow_int(tok: &[u8]) -> Option<i64> {
    values::parse_int(tok).ok()
}

const fn word_of(s: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let mut i = 0;
    while i < s.len() {
        w[i] = s[i];
        i += 1;
    }
    u64::from_le_bytes(w)
}

/// Code of an enumerated token, as [`values::parse`] assigns it.
#[inline(always)]
fn enum_code(kind: Kind, buf: &[u8], p: usize, len: usize) -> Option<u8> {
    use crate::schema::*;
    if len > 8 || len == 0 {
        return None;
    }
    let w = token::load8(buf, p) & (u64::MAX >> ((8 - len) * 8));
    const ACCEPT: u64 = word_of(b"ACCEPT");
    const REJECT: u64 = word_of(b"REJECT");
    const OK: u64 = word_of(b"OK");
    const NODATA: u64 = word_of(b"NODATA");
    const SKIPDATA: u64 = word_of(b"SKIPDATA");
    const INGRESS: u64 = word_of(b"ingress");
    const EGRESS: u64 = word_of(b"egress");
    match kind {
        Kind::Action => match w {
            ACCEPT => Some(ACTION_ACCEPT),
            REJECT => Some(ACTION_REJECT),
            _ => None,
        },
        Kind::LogStatus => match w {
            OK => Some(STATUS_OK),
            NODATA => Some(STATUS_NODATA),
            SKIPDATA => Some(STATUS_SKIPDATA),
            _ => None,
        },
        Kind::Direction => match w {
            INGRESS => Some(DIR_INGRESS),
            EGRESS => Some(DIR_EGRESS),
            _ => None,
        },
        _ => None,
    }
}

/// Stage 2 for field `k`: parses it on every fast line of `ix` into its column. Lines whose
/// value does not parse are marked in `bad` (their slot holds a placeholder); the log status
/// of each line goes to `status`.
pub fn column_pass(
    act: Act,
    k: usize,
    buf: &[u8],
    ix: &Index,
    cols: &mut Columns,
    bad: &mut [bool],
    status: &mut [u8],
) {
    match act {
        Act::Skip => {}
        Act::Check(kind) => check_pass(kind, k, buf, ix, bad),
        Act::I32(c) => pass::<I32Cell>(&mut cols.i32s[c as usize], ix, k, buf, bad),
        Act::I64(c) => pass::<I64Cell>(&mut cols.i64s[c as usize], ix, k, buf, bad),
        Act::U8(c) => pass::<U8Cell>(&mut cols.u8s[c as usize], ix, k, buf, bad),
        Act::U16(c) => pass::<U16Cell>(&mut cols.u16s[c as usize], ix, k, buf, bad),
        Act::Ip(c) => {
            let c = &mut cols.ips[c as usize];
            #[cfg(target_arch = "x86_64")]
            if token::ssse3() {
                // SAFETY: the CPU has SSSE3.
                unsafe { ip_pass_ssse3(c, ix, k, buf, bad) };
                return;
            }
            pass::<IpCell>(c, ix, k, buf, bad)
        }
        Act::Dict(c) => {
            let c = &mut cols.dicts[c as usize];
            ix.each(k, |_, s, len| {
                if dash(buf, s, len) {
                    c.push_null();
                } else {
                    c.push(&buf[s..s + len]);
                }
            });
        }
        Act::Enum(kind, col) => {
            let is_status = kind == Kind::LogStatus;
            let mut u8s = col.map(|c| &mut cols.u8s[c as usize]);
            ix.each(k, |m, s, len| {
                let code = match enum_code(kind, buf, s, len) {
                    Some(v) => Some(v),
                    None if dash(buf, s, len) => None,
                    None => {
                        bad[m] = true;
                        None
                    }
                };
                if is_status {
                    status[m] = code.unwrap_or(u8::MAX);
                }
                if let Some(c) = u8s.as_mut() {
                    match code {
                        Some(v) => c.push(v),
                        None => c.push_null(),
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str, n: usize, rule: HeaderRule) -> (Index, usize) {
        let mut buf = text.as_bytes().to_vec();
        buf.extend_from_slice(&[0; PAD]);
        let mut ix = Index::default();
        let end = text.len() - 1;
        let next = ix.build(&buf, 0, end, n, 1000, usize::MAX, rule);
        (ix, next)
    }

    #[test]
    fn finds_fast_lines_and_declines_the_rest() {
        let text = "1 2 3\n1  2 3\n1 2\n\n1\t2 3\n 1 2 3\n1 2 3 \n1 2 3\r\n10 20 30\n";
        let (ix, next) = build(text, 3, HeaderRule::Stop);
        assert_eq!(next, text.len());
        assert_eq!(
            ix.fast,
            [true, false, false, false, false, false, false, false, true]
        );
        assert_eq!(ix.rows(), 2);
        let mut toks = Vec::new();
        ix.each(2, |m, s, len| toks.push((m, s, len)));
        assert_eq!(toks, [(0, 4, 1), (1, text.rfind("30").unwrap(), 2)]);
        assert_eq!(ix.line(8), (text.rfind("10").unwrap(), text.len() - 1));
    }

    #[test]
    fn a_possible_header_ends_the_chunk() {
        let text = "1 2 3\nsrcaddr dstaddr x\n1 2 3\n";
        let (ix, next) = build(text, 3, HeaderRule::Stop);
        assert_eq!(ix.fast, [true, false]);
        assert_eq!(next, text.find("1 2 3\n").unwrap() + 6 + 18);
        // Data that may begin with a letter only stops at name-shaped lines.
        let text = "eni-1 A 3\neni-2 B 4\nversion srcaddr x\n1 2 3\n";
        let (ix, _) = build(text, 3, HeaderRule::NameShaped);
        assert_eq!(ix.fast, [true, true, false]);
    }
}
