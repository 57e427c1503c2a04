//! The deliveries this process has claimed and not yet settled (sent,
//! failed, held back), each with the lease it holds: what a shutdown gives
//! back at once (`Store::release_deliveries`) instead of leaving it to wait
//! for its lease to end.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

use crate::domain::DeliveryId;

#[derive(Default)]
pub struct Claims(Mutex<HashMap<DeliveryId, Timestamp>>);

impl Claims {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeliveryId, Timestamp>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A claim leased `ids` until `lease_until`. Claims whose lease ended
    /// by `now` are forgotten: they are no longer ours to give back (a row
    /// claimed again holds its new lease).
    pub fn claimed(
        &self,
        ids: impl IntoIterator<Item = DeliveryId>,
        lease_until: Timestamp,
        now: Timestamp,
    ) {
        let mut claims = self.lock();
        claims.retain(|_, until| *until > now);
        claims.extend(ids.into_iter().map(|id| (id, lease_until)));
    }

    /// These rows were given their fate (sent, failed, dead, held back).
    pub fn settled(&self, ids: impl IntoIterator<Item = DeliveryId>) {
        let mut claims = self.lock();
        for id in ids {
            claims.remove(&id);
        }
    }

    /// Everything still claimed, with its lease; forgotten here.
    pub fn take(&self) -> Vec<(DeliveryId, Timestamp)> {
        self.lock().drain().collect()
    }

    /// How many rows are claimed and not settled.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: i64) -> DeliveryId {
        DeliveryId::new(n)
    }

    #[test]
    fn settled_and_expired_claims_are_not_given_back() {
        let t0: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        let claims = Claims::default();
        claims.claimed(
            [id(1), id(2), id(3)],
            t0 + jiff::SignedDuration::from_secs(120),
            t0,
        );
        claims.settled([id(2)]);
        // A later claim, after the first lease ended, forgets the first.
        let later = t0 + jiff::SignedDuration::from_secs(121);
        claims.claimed(
            [id(3), id(4)],
            later + jiff::SignedDuration::from_secs(120),
            later,
        );
        let mut left = claims.take();
        left.sort();
        let lease = later + jiff::SignedDuration::from_secs(120);
        assert_eq!(left, vec![(id(3), lease), (id(4), lease)]);
        assert!(claims.is_empty());
    }
}
