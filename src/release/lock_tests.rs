use std::collections::HashMap;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use super::*;

/// SSM's semantics in memory: create-if-absent, versions that restart after a delete. Every call
/// yields first, so concurrent runs interleave as they would over the network; with `jitter`
/// each call also takes a pseudo-random 0–19 ms (virtual time), so runs overtake each other.
#[derive(Default)]
struct MemoryStore {
    entries: Mutex<HashMap<String, StoredLock>>,
    deletes: Mutex<usize>,
    jitter: Option<u64>,
    calls: std::sync::atomic::AtomicU64,
}

impl MemoryStore {
    fn jittery(seed: u64) -> MemoryStore {
        MemoryStore {
            jitter: Some(seed),
            ..MemoryStore::default()
        }
    }

    async fn latency(&self) {
        tokio::task::yield_now().await;
        if let Some(seed) = self.jitter {
            let call = self.calls.fetch_add(1, Ordering::Relaxed);
            let mixed = (seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9);
            tokio::time::sleep(Duration::from_millis((mixed >> 33) % 20)).await;
        }
    }
}

impl LockStore for MemoryStore {
    async fn create(&self, name: &str, value: &str) -> Result<bool, AwsError> {
        self.latency().await;
        let mut entries = self.entries.lock().unwrap();
        if entries.contains_key(name) {
            return Ok(false);
        }
        entries.insert(
            name.to_string(),
            StoredLock {
                value: value.to_string(),
                version: 1,
            },
        );
        Ok(true)
    }

    async fn read(&self, name: &str) -> Result<Option<StoredLock>, AwsError> {
        self.latency().await;
        Ok(self.entries.lock().unwrap().get(name).cloned())
    }

    async fn overwrite(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.latency().await;
        let mut entries = self.entries.lock().unwrap();
        let version = entries.get(name).map_or(0, |entry| entry.version) + 1;
        entries.insert(
            name.to_string(),
            StoredLock {
                value: value.to_string(),
                version,
            },
        );
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<bool, AwsError> {
        self.latency().await;
        *self.deletes.lock().unwrap() += 1;
        Ok(self.entries.lock().unwrap().remove(name).is_some())
    }
}

impl MemoryStore {
    fn record(&self, app: &str) -> Option<LockRecord> {
        let entries = self.entries.lock().unwrap();
        entries
            .get(&lock_parameter_name(app))
            .map(|stored| serde_json::from_str(&stored.value).unwrap())
    }
}

/// A wall clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<Mutex<SystemTime>>);

impl TestClock {
    fn new() -> TestClock {
        TestClock(Arc::new(Mutex::new(
            UNIX_EPOCH + Duration::from_secs(1_795_442_701),
        )))
    }

    fn clock(&self) -> Clock {
        let time = self.0.clone();
        Arc::new(move || *time.lock().unwrap())
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

fn holder(user: &str, pid: u32) -> Holder {
    Holder {
        user: user.into(),
        host: "build-7".into(),
        pid,
        command: "cutover deploy web".into(),
    }
}

fn locks(clock: &TestClock) -> AppLocks<MemoryStore> {
    AppLocks::new(MemoryStore::default()).with_clock(clock.clock())
}

#[tokio::test(start_paused = true)]
async fn a_free_lock_is_taken_and_records_the_holder() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let guard = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    let stored = locks.store.record("web").unwrap();
    assert_eq!(&stored, guard.record());
    assert_eq!(stored.holder, "alice");
    assert_eq!(stored.host, "build-7");
    assert_eq!(stored.pid, 41);
    assert_eq!(stored.command, "cutover deploy web");
    assert_eq!(stored.expires, stored.since + Duration::from_secs(15 * 60));
    // The record is JSON with RFC 3339 times, readable by people and other tools.
    let raw = locks.store.entries.lock().unwrap()["/cutover/locks/web"]
        .value
        .clone();
    assert!(raw.contains("\"since\":\"2026-11-23T14:05:01Z\""), "{raw}");
    assert!(raw.contains("\"holder\":\"alice\""), "{raw}");
}

#[tokio::test(start_paused = true)]
async fn a_held_lock_fails_fast_naming_the_holder() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let _first = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    clock.advance(Duration::from_secs(60));
    let error = locks.acquire("web", &holder("bob", 42)).await.unwrap_err();
    let LockError::Locked { record, .. } = &error else {
        panic!("expected Locked, got {error:?}");
    };
    assert_eq!(record.holder, "alice");
    assert_eq!(error.exit(), Exit::Locked);
    assert_eq!(error.exit().code(), 3);
    let text = error.to_string();
    assert!(
        text.contains("app web is locked by alice@build-7 (pid 41"),
        "{text}"
    );
    assert!(error.hint().unwrap().contains("cutover unlock web"));
    // Other apps are not affected.
    assert!(locks.acquire("api", &holder("bob", 42)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_expired_lock_is_taken_over() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let crashed = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    // The holder dies: its refresher stops, nothing is released.
    drop(crashed);
    clock.advance(Duration::from_secs(16 * 60));
    let guard = locks.acquire("web", &holder("bob", 42)).await.unwrap();
    assert_eq!(guard.record().holder, "bob");
    assert_eq!(locks.store.record("web").unwrap().holder, "bob");
}

#[tokio::test(start_paused = true)]
async fn release_deletes_only_our_own_lock() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let stale = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    clock.advance(Duration::from_secs(16 * 60));
    // Alice stalled past her expiry; Bob took over. Alice's release must not remove Bob's lock.
    let bob = locks.acquire("web", &holder("bob", 42)).await.unwrap();
    stale.release().await.unwrap();
    assert_eq!(locks.store.record("web").unwrap().token, bob.record().token);
    bob.release().await.unwrap();
    assert!(locks.store.record("web").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_holder_refreshes_its_expiry_while_it_works() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let guard = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    let first_expiry = guard.record().expires;
    // An hour of work: twelve refreshes, the lock never expires.
    for _ in 0..12 {
        clock.advance(Duration::from_secs(5 * 60));
        tokio::time::sleep(Duration::from_secs(5 * 60)).await;
    }
    let stored = locks.store.record("web").unwrap();
    assert_eq!(stored.token, guard.record().token);
    assert!(stored.expires > first_expiry + Duration::from_secs(50 * 60));
    assert!(!stored.is_expired(*clock.0.lock().unwrap()));
    let error = locks.acquire("web", &holder("bob", 42)).await.unwrap_err();
    assert!(matches!(error, LockError::Locked { .. }));
    assert!(!guard.is_lost());
}

#[tokio::test(start_paused = true)]
async fn a_holder_notices_when_its_lock_was_broken() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let guard = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    locks.break_lock("web", None).await.unwrap();
    let _bob = locks.acquire("web", &holder("bob", 42)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5 * 60 + 1)).await;
    assert!(guard.is_lost());
    // The refresh did not overwrite Bob's record.
    assert_eq!(locks.store.record("web").unwrap().holder, "bob");
}

#[tokio::test(start_paused = true)]
async fn ownership_is_read_afresh_before_a_change_without_waiting_for_a_refresh() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let guard = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    let ownership = guard.ownership();
    assert_eq!(ownership.holder().user, "alice");
    assert_eq!(ownership.lost_to().await, None);
    // Broken: nobody holds it, and the run knows at once (no refresh has run yet).
    locks.break_lock("web", None).await.unwrap();
    assert!(ownership
        .lost_to()
        .await
        .is_some_and(|holder| holder.starts_with("nobody")));
    assert!(guard.is_lost());
    // Taken by another run: that run is named.
    let _bob = locks.acquire("web", &holder("bob", 42)).await.unwrap();
    assert!(ownership
        .lost_to()
        .await
        .is_some_and(|holder| holder.contains("bob")));
}

#[tokio::test(start_paused = true)]
async fn concurrent_runs_exactly_one_wins() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let runs = (0..8).map(|pid| {
        let locks = locks.clone();
        async move { locks.acquire("web", &holder("ci", pid)).await }
    });
    let results = futures_util::future::join_all(runs).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    for result in &results {
        if let Err(error) = result {
            let LockError::Locked { record, .. } = error else {
                panic!("{error:?}");
            };
            assert_eq!(record.token, winners[0].record().token);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_takeovers_of_an_expired_lock_leave_one_holder() {
    // Many interleavings: in some, one run's delete lands after another's fresh create.
    for seed in 0..200 {
        let clock = TestClock::new();
        let locks = AppLocks::new(MemoryStore::jittery(seed)).with_clock(clock.clock());
        drop(locks.acquire("web", &holder("crashed", 1)).await.unwrap());
        clock.advance(Duration::from_secs(60 * 60));
        let runs = (10..14).map(|pid| {
            let locks = locks.clone();
            async move { locks.acquire("web", &holder("ci", pid)).await }
        });
        let results = futures_util::future::join_all(runs).await;
        let winners: Vec<&LockGuard<MemoryStore>> =
            results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "seed {seed}: {results:?}");
        assert_eq!(
            locks.store.record("web").unwrap().token,
            winners[0].record().token
        );
        for result in &results {
            if let Err(error) = result {
                assert!(matches!(error, LockError::Locked { .. }), "{error:?}");
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn break_lock_removes_any_holder_and_can_insist_on_the_one_shown() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    assert_eq!(locks.break_lock("web", None).await.unwrap(), None);
    let guard = locks.acquire("web", &holder("alice", 41)).await.unwrap();
    let shown = locks.holder("web").await.unwrap().unwrap();
    assert_eq!(&shown, guard.record());

    let error = locks
        .break_lock("web", Some("someone-else"))
        .await
        .unwrap_err();
    assert!(matches!(error, LockError::Locked { .. }));
    assert!(locks.store.record("web").is_some());

    let broken = locks.break_lock("web", Some(&shown.token)).await.unwrap();
    assert_eq!(broken.unwrap().holder, "alice");
    assert!(locks.store.record("web").is_none());
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_record_is_reported_and_can_be_broken() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    locks
        .store
        .create("/cutover/locks/web", "not json")
        .await
        .unwrap();
    let error = locks.acquire("web", &holder("bob", 42)).await.unwrap_err();
    assert!(matches!(error, LockError::Unreadable { .. }), "{error:?}");
    assert!(error.hint().unwrap().contains("cutover unlock web"));
    assert_eq!(locks.break_lock("web", None).await.unwrap(), None);
    assert!(locks.acquire("web", &holder("bob", 42)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_takeover_that_died_half_way_is_reported_and_unlock_clears_it() {
    let clock = TestClock::new();
    let locks = locks(&clock);
    let crashed = locks.acquire("web", &holder("crashed", 1)).await.unwrap();
    let token = crashed.record().token.clone();
    drop(crashed);
    clock.advance(Duration::from_secs(60 * 60));
    // A run claimed the takeover and died before writing its record.
    let claim = takeover_claim_name("web", &token);
    locks.store.create(&claim, "{}").await.unwrap();

    let error = locks.acquire("web", &holder("bob", 42)).await.unwrap_err();
    let LockError::Locked { record, .. } = &error else {
        panic!("expected Locked, got {error:?}");
    };
    assert_eq!(record.token, token);
    assert!(error.hint().unwrap().contains("cutover unlock web"));

    locks.break_lock("web", None).await.unwrap();
    assert!(locks.store.entries.lock().unwrap().is_empty());
    assert!(locks.acquire("web", &holder("bob", 42)).await.is_ok());
}
