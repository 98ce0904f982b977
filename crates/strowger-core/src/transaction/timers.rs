//! Timer values of RFC 3261 section 17 (table 4 of appendix A) and RFC 6026 section 8.
//!
//! Everything derives from T1 (round-trip estimate), T2 (cap on non-INVITE and
//! INVITE-response retransmission intervals) and T4 (time a message may stay in the
//! network). Timers that only absorb retransmissions are zero on reliable transports.

use std::time::Duration;

/// The base timer values. Defaults are those of RFC 3261: T1 500 ms, T2 4 s, T4 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses
    /// (default 4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (default 5 s).
    pub t4: Duration,
    /// How long an INVITE server transaction waits for the TU before sending
    /// 100 Trying itself (section 17.2.1: 200 ms).
    pub trying: Duration,
    /// Timer D on unreliable transports (section 17.1.1.2: at least 32 s).
    pub d: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying: Duration::from_millis(200),
            d: Duration::from_secs(32),
        }
    }
}

impl Timers {
    /// 64*T1: timers B, F, H, J (unreliable), L and M.
    pub fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer A's first interval: T1 on unreliable transports; none on reliable ones.
    pub fn a(&self, reliable: bool) -> Option<Duration> {
        (!reliable).then_some(self.t1)
    }

    /// Timer B: INVITE transaction timeout.
    pub fn b(&self) -> Duration {
        self.t1_x64()
    }

    /// Timer D: wait time for response retransmissions.
    pub fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.d
        }
    }

    /// Timer E's first interval: T1 on unreliable transports; none on reliable ones.
    pub fn e(&self, reliable: bool) -> Option<Duration> {
        (!reliable).then_some(self.t1)
    }

    /// Timer F: non-INVITE transaction timeout.
    pub fn f(&self) -> Duration {
        self.t1_x64()
    }

    /// Timer G's first interval: T1 on unreliable transports; none on reliable ones.
    pub fn g(&self, reliable: bool) -> Option<Duration> {
        (!reliable).then_some(self.t1)
    }

    /// Timer H: wait time for ACK receipt.
    pub fn h(&self) -> Duration {
        self.t1_x64()
    }

    /// Timer I: wait time for ACK retransmissions.
    pub fn i(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: wait time for non-INVITE request retransmissions.
    pub fn j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1_x64()
        }
    }

    /// Timer K: wait time for response retransmissions.
    pub fn k(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer L (RFC 6026): wait time for accepted INVITE request retransmissions.
    pub fn l(&self) -> Duration {
        self.t1_x64()
    }

    /// Timer M (RFC 6026): wait time for retransmission of 2xx to INVITE.
    pub fn m(&self) -> Duration {
        self.t1_x64()
    }

    /// The next retransmission interval after `current`, doubling, capped at T2
    /// (timers E and G).
    pub fn double_capped(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.t2)
    }
}

/// A retransmission timer: when it fires next and the interval that led there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retransmit {
    pub at: std::time::Instant,
    pub interval: Duration,
}

impl Retransmit {
    pub fn start(now: std::time::Instant, interval: Option<Duration>) -> Option<Retransmit> {
        interval.map(|interval| Retransmit {
            at: now + interval,
            interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_rfc3261_table_4() {
        let t = Timers::default();
        assert_eq!(t.b(), Duration::from_secs(32));
        assert_eq!(t.f(), Duration::from_secs(32));
        assert_eq!(t.h(), Duration::from_secs(32));
        assert_eq!(t.j(false), Duration::from_secs(32));
        assert_eq!(t.d(false), Duration::from_secs(32));
        assert_eq!(t.i(false), Duration::from_secs(5));
        assert_eq!(t.k(false), Duration::from_secs(5));
        assert_eq!(t.l(), Duration::from_secs(32));
        assert_eq!(t.m(), Duration::from_secs(32));
    }

    #[test]
    fn absorbing_timers_are_zero_on_reliable_transports() {
        let t = Timers::default();
        assert_eq!(t.d(true), Duration::ZERO);
        assert_eq!(t.i(true), Duration::ZERO);
        assert_eq!(t.j(true), Duration::ZERO);
        assert_eq!(t.k(true), Duration::ZERO);
        assert_eq!(t.a(true), None);
        assert_eq!(t.e(true), None);
        assert_eq!(t.g(true), None);
    }

    #[test]
    fn doubling_caps_at_t2() {
        let t = Timers::default();
        assert_eq!(
            t.double_capped(Duration::from_secs(2)),
            Duration::from_secs(4)
        );
        assert_eq!(
            t.double_capped(Duration::from_secs(4)),
            Duration::from_secs(4)
        );
    }
}
