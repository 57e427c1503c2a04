//! Rate limits on the public forms (`/subscribe`, "I'm affected"):
//! `governor`'s keyed limiters, run on the app's `Clock` so that tests move
//! time instead of sleeping, keyed by what each form limits.

use std::{
    net::IpAddr,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use governor::{
    middleware::NoOpMiddleware, nanos::Nanos, state::keyed::HashMapStateStore, Quota, RateLimiter,
};

use crate::clock::Clock;
use crate::config::Rate;

pub(super) type Limiter<K> =
    RateLimiter<K, HashMapStateStore<K>, LimiterClock, NoOpMiddleware<Nanos>>;

/// The app's clock as `governor` reads time: nanoseconds since the epoch.
#[derive(Clone)]
pub(super) struct LimiterClock(pub Arc<dyn Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(u64::try_from(self.0.now().as_nanosecond()).unwrap_or(0))
    }
}

/// At most `rate.count` at once, one more every `rate.per / rate.count`.
pub(super) fn limiter<K: std::hash::Hash + Eq + Clone>(
    rate: Rate,
    clock: LimiterClock,
) -> Limiter<K> {
    let every = (rate.per / rate.count.get()).max(Duration::from_nanos(1));
    let quota = Quota::with_period(every)
        .expect("a period above zero")
        .allow_burst(rate.count);
    RateLimiter::new(quota, HashMapStateStore::default(), clock)
}

/// The client's network: IPv6 hosts usually hold a whole /64, so that is
/// one client (`client_ip` has already turned IPv4-mapped addresses into
/// IPv4).
pub(super) fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// One limit per client network (`None`: the limit is off).
pub(super) struct IpLimit {
    limiter: Option<Limiter<IpAddr>>,
    clock: LimiterClock,
    checks: AtomicU32,
}

impl IpLimit {
    pub fn new(rate: Option<Rate>, clock: Arc<dyn Clock>) -> Self {
        let clock = LimiterClock(clock);
        Self {
            limiter: rate.map(|rate| limiter(rate, clock.clone())),
            clock,
            checks: AtomicU32::new(0),
        }
    }

    /// `Err(wait)` when this client's network is over the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        // Now and then, forget networks whose limit has fully recovered.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            limiter.retain_recent();
        }
        limiter
            .check_key(&network(ip))
            .map_err(|not_until| not_until.wait_time_from(governor::clock::Clock::now(&self.clock)))
    }
}

/// A wait as `Retry-After` seconds (at least 1) and whole minutes to say
/// (at least 1).
pub(super) fn retry_after(wait: Duration) -> (u64, u64) {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    (seconds.max(1), seconds.div_ceil(60).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_network_is_its_64_and_ipv4_is_itself() {
        let v6: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(network(v6), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "203.0.113.5".parse().unwrap();
        assert_eq!(network(v4), v4);
    }

    #[test]
    fn waits_round_up_to_a_second_and_a_minute() {
        assert_eq!(retry_after(Duration::from_millis(1)), (1, 1));
        assert_eq!(retry_after(Duration::from_secs(61)), (61, 2));
    }
}
