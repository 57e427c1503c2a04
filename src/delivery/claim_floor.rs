//! Where a claim starts looking for due deliveries, looked up at most once
//! a `REFRESH`: the oldest open delivery that can come due before the next
//! lookup, or past the newest delivery when none can.
//!
//! A claim walks the index of open deliveries in id order. On PostgreSQL a
//! delivery marked sent leaves its entry in that index, dead, until the
//! table is vacuumed, and each claim stepped over every one of them again:
//! in a fan-out to a million, 5 ms a claim by the end, a quarter of the
//! database's work. The rows of a fan-out are leased as they are written,
//! so the floor of a claim between two lookups lies past all of them.
//!
//! A delivery below the floor can still come due before the next lookup:
//! written by a transaction that took its id before the lookup and
//! committed after it, or given back by an instance shutting down. It
//! waits for that lookup, at most `REFRESH` later, or for the worker's next
//! pass, whose first claim looks at every open delivery.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use crate::domain::DeliveryId;

/// How long a floor is trusted, by the clock deliveries come due by and
/// by the one on the wall.
pub const REFRESH: SignedDuration = SignedDuration::from_secs(1);

/// Every delivery.
pub const EVERYTHING: DeliveryId = DeliveryId::new(0);

#[derive(Default)]
pub struct ClaimFloor(Mutex<Option<Floor>>);

#[derive(Clone, Copy)]
struct Floor {
    from: DeliveryId,
    /// Deliveries due or whose lease ends by then were counted.
    horizon: Timestamp,
    looked_up: Instant,
}

impl ClaimFloor {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Floor>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The floor, if it is still good at `now`.
    pub fn fresh(&self, now: Timestamp) -> Option<DeliveryId> {
        self.fresh_at(now, Instant::now())
    }

    fn fresh_at(&self, now: Timestamp, wall: Instant) -> Option<DeliveryId> {
        let floor = (*self.lock())?;
        let young = wall.duration_since(floor.looked_up) < REFRESH.unsigned_abs();
        (young && now < floor.horizon).then_some(floor.from)
    }

    /// How far ahead a lookup made at `now` counts deliveries coming due.
    pub fn horizon(now: Timestamp) -> Timestamp {
        now + REFRESH
    }

    /// A lookup made at `now` (and `at`) found `from`.
    pub fn looked_up(&self, from: DeliveryId, now: Timestamp, at: Instant) {
        *self.lock() = Some(Floor {
            from,
            horizon: Self::horizon(now),
            looked_up: at,
        });
    }

    /// The next claim from the floor looks it up again.
    pub fn forget(&self) {
        *self.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_is_good_for_a_second_of_either_clock() {
        let t0: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        let at = Instant::now();
        let floor = ClaimFloor::default();
        assert_eq!(floor.fresh_at(t0, at), None);
        floor.looked_up(DeliveryId::new(42), t0, at);
        assert_eq!(floor.fresh_at(t0, at), Some(DeliveryId::new(42)));
        // The clock deliveries come due by jumps (a test's, or a
        // corrected system clock): rows due meanwhile were not counted.
        assert_eq!(floor.fresh_at(t0 + REFRESH, at), None);
        let ms = std::time::Duration::from_millis(1);
        let later = at + REFRESH.unsigned_abs();
        assert_eq!(floor.fresh_at(t0, later - ms), Some(DeliveryId::new(42)));
        assert_eq!(floor.fresh_at(t0, later), None);
        floor.forget();
        assert_eq!(floor.fresh_at(t0, at), None);
    }
}
