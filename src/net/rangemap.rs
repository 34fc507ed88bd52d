//! Longest-prefix match as a sorted array of disjoint ranges.
//!
//! Nested CIDR blocks are flattened once at build time so that every address falls in at most one
//! segment whose value is that of the most specific covering prefix. A lookup is one binary search
//! over a contiguous `u128` array: no allocation, no per-prefix-length probing.

use ipnet::IpNet;

use super::ip::{net_bounds, IpKey};

#[derive(Debug, Clone)]
pub struct RangeMap<V> {
    starts: Vec<IpKey>,
    ends: Vec<IpKey>,
    values: Vec<V>,
    /// The segments clipped to the IPv4-mapped space, as `u32` bounds and value indices: IPv4
    /// keys (nearly all of them) are searched with 32-bit compares.
    v4_starts: Vec<u32>,
    v4_ends: Vec<u32>,
    v4_values: Vec<u32>,
    /// Optional index for IPv4 keys (see [`RangeMap::index_v4`]): entry `b` is the number of
    /// IPv4 segments starting at or before the first address of the /16 block `b`.
    v4: Option<Box<[u32]>>,
}

impl<V> Default for RangeMap<V> {
    fn default() -> Self {
        RangeMap {
            starts: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
            v4_starts: Vec::new(),
            v4_ends: Vec::new(),
            v4_values: Vec::new(),
            v4: None,
        }
    }
}

impl<V: Clone> RangeMap<V> {
    pub fn get(&self, k: IpKey) -> Option<&V> {
        if crate::net::ip::is_v4(k) {
            return self.get_v4(k as u32);
        }
        let idx = self.starts.partition_point(|&s| s <= k);
        if idx == 0 {
            return None;
        }
        let i = idx - 1;
        (k <= self.ends[i]).then(|| &self.values[i])
    }

    #[inline]
    fn get_v4(&self, a: u32) -> Option<&V> {
        let starts = &self.v4_starts;
        let idx = match &self.v4 {
            Some(v4) => {
                // Only the segments that start inside this /16 need a search.
                let b = (a >> 16) as usize;
                let (lo, hi) = (v4[b] as usize, v4[b + 1] as usize);
                lo + starts[lo..hi].partition_point(|&s| s <= a)
            }
            // A route table or a VPC's CIDRs: a few segments, faster counted than searched.
            None if starts.len() <= 16 => starts.iter().filter(|&&s| s <= a).count(),
            None => starts.partition_point(|&s| s <= a),
        };
        if idx == 0 {
            return None;
        }
        let i = idx - 1;
        (a <= self.v4_ends[i]).then(|| &self.values[self.v4_values[i] as usize])
    }

    /// Fills the IPv4 view of the segments.
    fn with_v4(mut self) -> Self {
        use crate::net::ip::from_v4;
        let (lo, hi) = (from_v4(0), from_v4(u32::MAX));
        self.v4_starts.clear();
        self.v4_ends.clear();
        self.v4_values.clear();
        for i in 0..self.starts.len() {
            let (s, e) = (self.starts[i].max(lo), self.ends[i].min(hi));
            if s <= e {
                self.v4_starts.push(s as u32);
                self.v4_ends.push(e as u32);
                self.v4_values.push(i as u32);
            }
        }
        self
    }

    /// Builds a /16 index over the IPv4 part of the map, so a lookup of an IPv4 key searches
    /// the few segments that start inside its /16 instead of the whole map (256 KiB; meant for
    /// large maps such as AWS's address ranges).
    pub fn index_v4(&mut self) {
        // v4[b] = segments starting at or before the first address of block b; a key of block
        // b has its count in [v4[b], v4[b + 1]].
        let v4: Vec<u32> = (0..=(1u64 << 16))
            .map(|b| {
                if b == 1 << 16 {
                    self.v4_starts.len() as u32
                } else {
                    let first = (b as u32) << 16;
                    self.v4_starts.partition_point(|&s| s <= first) as u32
                }
            })
            .collect();
        self.v4 = Some(v4.into_boxed_slice());
    }

    /// This map where it has a value, `fallback` elsewhere.
    pub fn overlay(&self, fallback: &RangeMap<V>) -> RangeMap<V> {
        let mut segs: Vec<(IpKey, IpKey, V)> = Vec::new();
        let mut j = 0;
        for i in 0..fallback.starts.len() {
            let (fs, fe) = (fallback.starts[i], fallback.ends[i]);
            let mut cur = Some(fs);
            while j < self.starts.len() && self.ends[j] < fs {
                j += 1;
            }
            let mut p = j;
            while let Some(c) = cur {
                if p >= self.starts.len() || self.starts[p] > fe {
                    segs.push((c, fe, fallback.values[i].clone()));
                    break;
                }
                if self.starts[p] > c {
                    segs.push((c, self.starts[p] - 1, fallback.values[i].clone()));
                }
                cur = self.ends[p].checked_add(1).filter(|&n| n <= fe);
                p += 1;
            }
        }
        for i in 0..self.starts.len() {
            segs.push((self.starts[i], self.ends[i], self.values[i].clone()));
        }
        segs.sort_by_key(|s| s.0);
        let mut out = RangeMap::default();
        for (s, e, v) in segs {
            out.starts.push(s);
            out.ends.push(e);
            out.values.push(v);
        }
        out.with_v4()
    }

    pub fn contains(&self, k: IpKey) -> bool {
        self.get(k).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }
}

/// Collects prefixes; `build` flattens them.
#[derive(Debug, Clone)]
pub struct RangeMapBuilder<V> {
    items: Vec<(IpKey, IpKey, V)>,
}

impl<V> Default for RangeMapBuilder<V> {
    fn default() -> Self {
        RangeMapBuilder { items: Vec::new() }
    }
}

impl<V: Clone> RangeMapBuilder<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, net: &IpNet, value: V) {
        let (s, e) = net_bounds(net);
        self.items.push((s, e, value));
    }

    pub fn insert_range(&mut self, start: IpKey, end: IpKey, value: V) {
        debug_assert!(start <= end);
        self.items.push((start, end, value));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Flattens the prefixes. When the same block was inserted more than once, `prefer(a, b)`
    /// returning true keeps `a`. Ranges must nest or be disjoint, as CIDR blocks always do.
    pub fn build(mut self, prefer: impl Fn(&V, &V) -> bool) -> RangeMap<V> {
        // Widest first at equal start, so an enclosing block is on the stack before its children.
        self.items.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut deduped: Vec<(IpKey, IpKey, V)> = Vec::with_capacity(self.items.len());
        for item in self.items {
            match deduped.last_mut() {
                Some(last) if last.0 == item.0 && last.1 == item.1 => {
                    if !prefer(&last.2, &item.2) {
                        *last = item;
                    }
                }
                _ => deduped.push(item),
            }
        }

        let mut out = RangeMap::default();
        let mut emit = |s: IpKey, e: IpKey, v: &V| {
            out.starts.push(s);
            out.ends.push(e);
            out.values.push(v.clone());
        };
        let mut stack: Vec<(IpKey, IpKey, V)> = Vec::new();
        // Next address not yet covered by an emitted segment; None once u128::MAX was emitted.
        let mut cursor: Option<IpKey> = Some(0);
        for item in deduped {
            while let Some(top) = stack.last() {
                if top.1 >= item.0 {
                    break;
                }
                if let Some(c) = cursor {
                    if c <= top.1 {
                        emit(c.max(top.0), top.1, &top.2);
                    }
                }
                cursor = top.1.checked_add(1);
                stack.pop();
            }
            if let (Some(top), Some(c)) = (stack.last(), cursor) {
                if c < item.0 {
                    emit(c.max(top.0), item.0 - 1, &top.2);
                }
            }
            cursor = Some(item.0);
            stack.push(item);
        }
        while let Some(top) = stack.pop() {
            if let Some(c) = cursor {
                if c <= top.1 {
                    emit(c.max(top.0), top.1, &top.2);
                }
            }
            cursor = top.1.checked_add(1);
        }
        out.with_v4()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ip::parse;

    fn k(s: &str) -> IpKey {
        parse(s.as_bytes()).unwrap()
    }

    fn build(nets: &[(&str, u32)]) -> RangeMap<u32> {
        let mut b = RangeMapBuilder::new();
        for (n, v) in nets {
            b.insert(&n.parse().unwrap(), *v);
        }
        b.build(|a, b| a > b)
    }

    #[test]
    fn most_specific_prefix_wins() {
        let m = build(&[
            ("10.0.0.0/16", 1),
            ("10.0.1.0/24", 2),
            ("10.0.1.128/25", 3),
            ("0.0.0.0/0", 9),
        ]);
        assert_eq!(m.get(k("10.0.0.5")), Some(&1));
        assert_eq!(m.get(k("10.0.1.5")), Some(&2));
        assert_eq!(m.get(k("10.0.1.200")), Some(&3));
        assert_eq!(m.get(k("10.0.2.1")), Some(&1));
        assert_eq!(m.get(k("10.1.0.0")), Some(&9));
        assert_eq!(m.get(k("255.255.255.255")), Some(&9));
        assert_eq!(m.get(k("0.0.0.0")), Some(&9));
        // IPv6 keys are outside the IPv4-mapped default route.
        assert_eq!(m.get(k("2001:db8::1")), None);
    }

    #[test]
    fn duplicates_use_preference_and_disjoint_blocks_do_not_leak() {
        let m = build(&[
            ("52.216.0.0/15", 1),
            ("52.216.0.0/15", 5),
            ("3.5.0.0/19", 2),
        ]);
        assert_eq!(m.get(k("52.217.1.1")), Some(&5));
        assert_eq!(m.get(k("3.5.31.255")), Some(&2));
        assert_eq!(m.get(k("3.5.32.0")), None);
        assert_eq!(m.get(k("52.215.255.255")), None);
    }

    #[test]
    fn full_v6_space_does_not_overflow() {
        let m = build(&[("::/0", 1), ("ffff:ffff::/32", 2)]);
        assert_eq!(m.get(u128::MAX), Some(&2));
        assert_eq!(m.get(1), Some(&1));
    }

    #[test]
    fn v4_index_and_overlay_agree_with_plain_lookups() {
        let primary = build(&[
            ("10.0.0.0/16", 1),
            ("10.0.1.0/24", 2),
            ("52.216.0.0/15", 3),
            ("10.1.255.0/24", 7),
        ]);
        let fallback = build(&[
            ("10.0.0.0/8", 4),
            ("52.0.0.0/8", 5),
            ("0.0.0.0/0", 6),
            ("2001:db8::/32", 8),
        ]);
        let mut both = primary.overlay(&fallback);
        let plain = both.clone();
        both.index_v4();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for i in 0..20000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let a = match i % 4 {
                0 => 0x0a00_0000 | (seed as u32 & 0x01ff_ffff),
                1 => 0x34d8_0000 | (seed as u32 & 0x0003_ffff),
                2 => (i << 16) | 0xffff,
                _ => seed as u32,
            };
            let key = crate::net::ip::from_v4(a);
            let want = primary.get(key).or_else(|| fallback.get(key));
            assert_eq!(plain.get(key), want, "{}", std::net::Ipv4Addr::from(a));
            assert_eq!(both.get(key), want, "{}", std::net::Ipv4Addr::from(a));
        }
        assert_eq!(both.get(k("2001:db8::1")), Some(&8));
        assert_eq!(both.get(k("255.255.255.255")), Some(&6));
    }

    #[test]
    fn agrees_with_linear_scan() {
        // Deterministic pseudo-random prefixes, checked against a brute-force longest match.
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut nets = Vec::new();
        for i in 0..300u32 {
            let len = 8 + (next() % 25) as u8;
            let addr = (next() as u32) & 0x0f0f_ffff;
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(addr), len)
                .unwrap()
                .trunc();
            nets.push((IpNet::V4(net), i));
        }
        let mut b = RangeMapBuilder::new();
        for (n, v) in &nets {
            b.insert(n, *v);
        }
        let m = b.build(|a, b| a < b);
        for _ in 0..5000 {
            let a = (next() as u32) & 0x0f0f_ffff;
            let key = crate::net::ip::from_v4(a);
            let want = nets
                .iter()
                .filter(|(n, _)| n.contains(&std::net::IpAddr::V4(a.into())))
                .max_by(|x, y| x.0.prefix_len().cmp(&y.0.prefix_len()).then(y.1.cmp(&x.1)))
                .map(|x| x.1);
            assert_eq!(m.get(key).copied(), want, "{}", std::net::Ipv4Addr::from(a));
        }
    }
}
