//! Backoff between delivery attempts: exponential with full jitter, capped, and overridden by a
//! receiver's Retry-After.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    attempt: u32,
    seed: u64,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            | 1;
        Backoff {
            base,
            max,
            attempt: 0,
            seed,
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    fn rand(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    /// The next wait: Retry-After when the receiver gave one (capped at `max`), else a random
    /// duration in [base/2, min(max, base * 2^attempt)].
    pub fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        if let Some(ra) = retry_after {
            return ra.min(self.max);
        }
        let exp = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20).saturating_sub(1))
            .min(self.max);
        let lo = self.base / 2;
        let span = exp.saturating_sub(lo).as_millis() as u64;
        let jitter = if span == 0 {
            0
        } else {
            self.rand() % (span + 1)
        };
        lo + Duration::from_millis(jitter)
    }
}

/// Parses a Retry-After header given in seconds.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_honours_retry_after() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut prev_cap = Duration::ZERO;
        for i in 1..=10u32 {
            let d = b.next(None);
            let cap = (Duration::from_millis(100) * 2u32.pow(i - 1)).min(Duration::from_secs(2));
            assert!(
                d >= Duration::from_millis(50) && d <= cap,
                "attempt {i}: {d:?} > {cap:?}"
            );
            assert!(cap >= prev_cap);
            prev_cap = cap;
        }
        assert_eq!(b.next(Some(Duration::from_secs(1))), Duration::from_secs(1));
        assert_eq!(
            b.next(Some(Duration::from_secs(100))),
            Duration::from_secs(2)
        );
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
