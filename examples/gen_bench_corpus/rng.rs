//! The generator's own PRNG: xorshift64* with a splitmix64 seeder. Every 5-minute object gets
//! its own stream (seed, object index), so the corpus is byte-identical whatever the number of
//! writer threads and whichever object a thread happens to take first.

pub struct Rng(u64);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let z = splitmix(seed ^ splitmix(stream.wrapping_add(0x5851_f42d_4c95_7f2d)));
        // xorshift has one fixed point (0) it never leaves.
        Rng(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (multiply-shift: no modulo bias worth the name for small n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// Log-uniform in `[lo, hi)`: flow sizes and run lengths are heavy-tailed, not uniform.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }

    /// Picks an index by integer weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut x = self.below(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return i;
            }
            x -= w as u64;
        }
        weights.len() - 1
    }
}

/// A cumulative table for picking among many items by weight in O(log n).
pub struct Table {
    cum: Vec<u64>,
}

impl Table {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Table {
        let mut acc = 0;
        let cum = weights
            .into_iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Table { cum }
    }

    pub fn is_empty(&self) -> bool {
        self.cum.last().is_none_or(|&t| t == 0)
    }

    pub fn pick(&self, rng: &mut Rng) -> usize {
        let x = rng.below(*self.cum.last().unwrap_or(&1));
        self.cum.partition_point(|&c| c <= x)
    }
}
