//! The app lock: one run at a time per app, held in AWS (an SSM parameter
//! `/cutover/locks/<app>`), so it works across machines and survives the local disk.
//!
//! The record says who holds it (user, host, pid, command, since) and until when. Acquiring is
//! one atomic create-if-absent (`PutParameter` with `Overwrite=false`). A holder refreshes the
//! expiry while it works; a holder that crashed stops refreshing, its lock expires, and the next
//! run takes it over. `cutover unlock APP` breaks a lock at once, after showing its holder.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::aws::AwsError;
use crate::error::{Diagnostic, Exit};

/// Where an app's lock lives.
pub fn lock_parameter_name(app: &str) -> String {
    format!("/cutover/locks/{app}")
}

/// The claim that gives one run the right to replace the expired lock record with `token`.
pub fn takeover_claim_name(app: &str, token: &str) -> String {
    format!("/cutover/lock-takeovers/{app}/{token}")
}

/// A lock record as stored, with the store's version of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLock {
    pub value: String,
    pub version: i64,
}

/// The storage the lock needs: an atomic create-if-absent, a read, an overwrite and a delete.
/// SSM Parameter Store in the tool; a map in tests.
pub trait LockStore: Send + Sync + 'static {
    /// Creates `name` only if it does not exist; `false` when it already does.
    fn create(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    fn read(&self, name: &str)
        -> impl Future<Output = Result<Option<StoredLock>, AwsError>> + Send;
    fn overwrite(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// `false` when there was nothing to delete.
    fn delete(&self, name: &str) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// Who holds a lock, and until when. Stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockRecord {
    pub holder: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    #[serde(with = "rfc3339")]
    pub since: SystemTime,
    #[serde(with = "rfc3339")]
    pub expires: SystemTime,
    /// Unique to one acquisition: the proof of ownership for refresh and release.
    pub token: String,
}

impl LockRecord {
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires
    }
}

impl fmt::Display for LockRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{} (pid {}, `{}`) since {}, expiring {}",
            self.holder,
            self.host,
            self.pid,
            self.command,
            humantime::format_rfc3339_seconds(self.since),
            humantime::format_rfc3339_seconds(self.expires),
        )
    }
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_seconds(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

/// This process, as a lock holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// The command line, e.g. `cutover deploy web`.
    pub command: String,
}

impl Holder {
    /// The current user, host and process; `command` says what the run does.
    pub fn current(command: impl Into<String>) -> Holder {
        let user = ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|host| host.trim().to_string())
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "unknown".into());
        Holder {
            user,
            host,
            pid: std::process::id(),
            command: command.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("app {app} is locked by {record}")]
    Locked { app: String, record: LockRecord },
    #[error("app {app} lost its lock to {record}")]
    Lost { app: String, record: LockRecord },
    #[error("the lock of app {app} ({name}) holds a record cutover cannot read: {reason}")]
    Unreadable {
        app: String,
        name: String,
        reason: String,
    },
    #[error("could not {action} the lock of app {app}")]
    Aws {
        app: String,
        action: &'static str,
        #[source]
        source: AwsError,
    },
}

impl Diagnostic for LockError {
    fn exit(&self) -> Exit {
        match self {
            LockError::Locked { .. } | LockError::Lost { .. } => Exit::Locked,
            LockError::Unreadable { .. } => Exit::Error,
            LockError::Aws { source, .. } => source.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            LockError::Locked { app, .. } | LockError::Lost { app, .. } => Some(format!(
                "wait for that run to finish; if it died, break the lock with `cutover unlock {app}`"
            )),
            LockError::Unreadable { app, .. } => {
                Some(format!("break it with `cutover unlock {app}`"))
            }
            LockError::Aws { source, .. } => source.hint(),
        }
    }
}

/// How long a lock lasts without a refresh, and how often a holder refreshes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockTimings {
    pub ttl: Duration,
    pub refresh_every: Duration,
    /// How long to wait for another run that is taking over the same expired lock.
    pub settle: Duration,
}

impl Default for LockTimings {
    fn default() -> Self {
        LockTimings {
            ttl: Duration::from_secs(15 * 60),
            refresh_every: Duration::from_secs(5 * 60),
            settle: Duration::from_secs(2),
        }
    }
}

/// Wall-clock time for the lock record (injected so tests control expiry).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Takes, refreshes, releases and breaks app locks in one store.
pub struct AppLocks<L> {
    store: Arc<L>,
    timings: LockTimings,
    clock: Clock,
}

// Not derived: a derive would require `L: Clone`, and the store is shared, not copied.
impl<L> Clone for AppLocks<L> {
    fn clone(&self) -> Self {
        AppLocks {
            store: self.store.clone(),
            timings: self.timings,
            clock: self.clock.clone(),
        }
    }
}

/// Rounds of trying before giving up: a takeover that loses a race means another run is getting
/// the lock, so a few rounds are plenty.
const MAX_TAKEOVER_ROUNDS: usize = 3;

impl<L: LockStore> AppLocks<L> {
    pub fn new(store: L) -> AppLocks<L> {
        AppLocks {
            store: Arc::new(store),
            timings: LockTimings::default(),
            clock: Arc::new(SystemTime::now),
        }
    }

    pub fn with_timings(mut self, timings: LockTimings) -> AppLocks<L> {
        self.timings = timings;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> AppLocks<L> {
        self.clock = clock;
        self
    }

    /// Takes the lock of `app`, or fails fast with [`LockError::Locked`] naming the holder.
    /// The returned guard refreshes the expiry until it is released or dropped.
    pub async fn acquire(&self, app: &str, holder: &Holder) -> Result<LockGuard<L>, LockError> {
        let name = lock_parameter_name(app);
        let mut last_seen = None;
        for round in 0..MAX_TAKEOVER_ROUNDS {
            if round > 0 {
                // Another run is taking over the same expired lock: give it time to finish.
                tokio::time::sleep(self.timings.settle).await;
            }
            let record = self.new_record(holder);
            let created = self
                .store
                .create(&name, &encode(&record))
                .await
                .map_err(aws(app, "take"))?;
            if created {
                tracing::debug!(app, token = %record.token, "lock taken");
                return Ok(self.guard(app, name, record, holder));
            }
            let Some((current, _)) = self.read_record(app, &name).await? else {
                // Released between our create and our read: try again.
                continue;
            };
            if !current.is_expired((self.clock)()) {
                return Err(LockError::Locked {
                    app: app.to_string(),
                    record: current,
                });
            }
            if let Some(record) = self.take_over(app, &name, &current, holder).await? {
                return Ok(self.guard(app, name, record, holder));
            }
            last_seen = Some(current);
        }
        // Still the same expired record after every round: a run died half way through its
        // takeover. Only an operator can tell; `cutover unlock` clears it.
        match self.read_record(app, &name).await? {
            Some((record, _)) => Err(LockError::Locked {
                app: app.to_string(),
                record,
            }),
            None => Err(LockError::Locked {
                app: app.to_string(),
                record: last_seen.expect("at least one expired record was seen"),
            }),
        }
    }

    /// Replaces the expired record `expired` with ours; `None` when another run got there first.
    ///
    /// SSM has no conditional write, so the main record is never deleted during a takeover (a
    /// run acting on a stale read could then delete a fresh lock created in the gap). Instead,
    /// the right to replace one expired record is itself taken atomically: a claim parameter
    /// named after the expired token, created with `Overwrite=false`. Only the claim's winner
    /// overwrites the record, after checking the expired token is still the one stored. The claim
    /// is removed only after the overwrite, so a late run that claims the same token afterwards
    /// reads our token in that check and backs off.
    async fn take_over(
        &self,
        app: &str,
        name: &str,
        expired: &LockRecord,
        holder: &Holder,
    ) -> Result<Option<LockRecord>, LockError> {
        let claim = takeover_claim_name(app, &expired.token);
        let record = self.new_record(holder);
        let claimed = self
            .store
            .create(&claim, &encode(&record))
            .await
            .map_err(aws(app, "claim the expired"))?;
        if !claimed {
            return Ok(None);
        }
        let still_expired = matches!(
            self.read_record(app, name).await,
            Ok(Some((current, _))) if current.token == expired.token
        );
        let taken = if still_expired {
            tracing::warn!(app, holder = %expired, "taking over an expired lock");
            self.store
                .overwrite(name, &encode(&record))
                .await
                .map_err(aws(app, "take over"))?;
            Some(record)
        } else {
            None
        };
        if let Err(error) = self.store.delete(&claim).await {
            tracing::warn!(app, error = %error, claim, "could not remove the takeover claim");
        }
        Ok(taken)
    }

    /// The current holder of `app`'s lock, if any (expired or not).
    pub async fn holder(&self, app: &str) -> Result<Option<LockRecord>, LockError> {
        let name = lock_parameter_name(app);
        Ok(self
            .read_record(app, &name)
            .await?
            .map(|(record, _)| record))
    }

    /// Breaks `app`'s lock whoever holds it, for `cutover unlock`. With `expected_token`, only if
    /// the lock is still the one the user was shown. Returns the record that was removed.
    pub async fn break_lock(
        &self,
        app: &str,
        expected_token: Option<&str>,
    ) -> Result<Option<LockRecord>, LockError> {
        let name = lock_parameter_name(app);
        let current = match self.read_record(app, &name).await {
            Ok(current) => current.map(|(record, _)| record),
            // An unreadable record is exactly what unlock is for.
            Err(LockError::Unreadable { .. }) if expected_token.is_none() => None,
            Err(error) => return Err(error),
        };
        if let (Some(expected), Some(record)) = (expected_token, &current) {
            if record.token != expected {
                return Err(LockError::Locked {
                    app: app.to_string(),
                    record: record.clone(),
                });
            }
        }
        let deleted = self.store.delete(&name).await.map_err(aws(app, "break"))?;
        if let Some(record) = &current {
            // A claim left by a run that died during its takeover would block the next one.
            let claim = takeover_claim_name(app, &record.token);
            self.store.delete(&claim).await.map_err(aws(app, "break"))?;
        }
        Ok(if deleted { current } else { None })
    }

    fn new_record(&self, holder: &Holder) -> LockRecord {
        let since = (self.clock)();
        LockRecord {
            holder: holder.user.clone(),
            host: holder.host.clone(),
            pid: holder.pid,
            command: holder.command.clone(),
            since,
            expires: since + self.timings.ttl,
            token: new_token(holder, since),
        }
    }

    async fn read_record(
        &self,
        app: &str,
        name: &str,
    ) -> Result<Option<(LockRecord, i64)>, LockError> {
        let Some(stored) = self.store.read(name).await.map_err(aws(app, "read"))? else {
            return Ok(None);
        };
        let record =
            serde_json::from_str(&stored.value).map_err(|error| LockError::Unreadable {
                app: app.to_string(),
                name: name.to_string(),
                reason: error.to_string(),
            })?;
        Ok(Some((record, stored.version)))
    }

    fn guard(&self, app: &str, name: String, record: LockRecord, holder: &Holder) -> LockGuard<L> {
        let lost = Arc::new(AtomicBool::new(false));
        let refresher = tokio::spawn(refresh_loop(
            self.clone(),
            app.to_string(),
            name.clone(),
            record.clone(),
            lost.clone(),
        ));
        LockGuard {
            locks: self.clone(),
            app: app.to_string(),
            name,
            record,
            holder: holder.clone(),
            lost,
            refresher: Some(refresher),
        }
    }
}

/// Pushes the expiry forward every `refresh_every`, as long as the stored token is ours.
async fn refresh_loop<L: LockStore>(
    locks: AppLocks<L>,
    app: String,
    name: String,
    mut record: LockRecord,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(locks.timings.refresh_every).await;
        match locks.read_record(&app, &name).await {
            Ok(Some((stored, _))) if stored.token == record.token => {}
            Ok(other) => {
                let holder = other.map_or("nobody".to_string(), |(stored, _)| stored.to_string());
                tracing::error!(app, %holder, "the app lock is no longer ours");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(error) => {
                // A failed refresh is retried next round; the expiry leaves room for two misses.
                tracing::warn!(app, error = %error, "could not refresh the app lock");
                continue;
            }
        }
        record.expires = (locks.clock)() + locks.timings.ttl;
        if let Err(error) = locks.store.overwrite(&name, &encode(&record)).await {
            tracing::warn!(app, error = %error, "could not refresh the app lock");
        }
    }
}

/// Whether a run still holds its app's lock, asked by the work done under it before each change
/// it makes: a lock can be lost while a long cutover runs (`cutover unlock --force`, or a run
/// stalled past the lock's time to live and another took it over), and from then on the other
/// run decides the app's traffic. Made by [`LockGuard::ownership`].
#[derive(Clone)]
pub struct LockOwnership {
    app: String,
    holder: Holder,
    check: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, Option<String>> + Send + Sync>,
}

impl LockOwnership {
    /// This run, as it took the lock.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// `None` while the lock is still ours; else who holds it now (a holder's description, or
    /// "nobody" when it was broken and not taken again). One read of the lock record.
    pub async fn lost_to(&self) -> Option<String> {
        (self.check)().await
    }
}

impl fmt::Debug for LockOwnership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockOwnership")
            .field("app", &self.app)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// A held lock. Release it with [`LockGuard::release`]; dropping it only stops the refreshes, and
/// the lock then expires after its time to live.
pub struct LockGuard<L: LockStore> {
    locks: AppLocks<L>,
    app: String,
    name: String,
    record: LockRecord,
    holder: Holder,
    lost: Arc<AtomicBool>,
    refresher: Option<tokio::task::JoinHandle<()>>,
}

impl<L: LockStore> fmt::Debug for LockGuard<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("app", &self.app)
            .field("record", &self.record)
            .finish()
    }
}

impl<L: LockStore> LockGuard<L> {
    pub fn record(&self) -> &LockRecord {
        &self.record
    }

    /// A handle that the work done under this lock asks, just before each change it makes,
    /// whether the lock is still its own (a fresh read, not the last refresh).
    pub fn ownership(&self) -> LockOwnership {
        let locks = self.locks.clone();
        let app = self.app.clone();
        let name = self.name.clone();
        let token = self.record.token.clone();
        let lost = self.lost.clone();
        LockOwnership {
            app: self.app.clone(),
            holder: self.holder.clone(),
            check: Arc::new(move || {
                let (locks, app, name, token, lost) = (
                    locks.clone(),
                    app.clone(),
                    name.clone(),
                    token.clone(),
                    lost.clone(),
                );
                Box::pin(async move {
                    match locks.read_record(&app, &name).await {
                        Ok(Some((stored, _))) if stored.token == token => None,
                        Ok(other) => {
                            lost.store(true, Ordering::SeqCst);
                            Some(other.map_or_else(
                                || "nobody (it was broken with `cutover unlock`)".to_string(),
                                |(stored, _)| stored.to_string(),
                            ))
                        }
                        // An unreadable lock is no proof of loss: the work goes on, and the
                        // refresh loop (which allows for missed rounds) keeps watching.
                        Err(error) => {
                            tracing::warn!(app, error = %error, "could not check the app lock");
                            lost.load(Ordering::SeqCst)
                                .then(|| "another run (a refresh found it taken)".to_string())
                        }
                    }
                })
            }),
        }
    }

    /// Whether a refresh found someone else's token: the run must stop changing things.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Deletes the lock if it is still ours; someone else's lock is left alone.
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some(refresher) = self.refresher.take() {
            refresher.abort();
        }
        // Check-then-delete again: the window is one round trip, and only matters if our lock
        // expired and was taken over in between (a run that stalled longer than the expiry).
        match self.locks.read_record(&self.app, &self.name).await? {
            Some((stored, _)) if stored.token == self.record.token => {
                self.locks
                    .store
                    .delete(&self.name)
                    .await
                    .map_err(aws(&self.app, "release"))?;
                tracing::debug!(app = %self.app, "lock released");
                Ok(())
            }
            Some((stored, _)) => {
                tracing::warn!(app = %self.app, holder = %stored, "lock not released: it is no longer ours");
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Releases the lock at the end of a command whose own result matters more: a failure here
    /// is a warning, since the lock expires by itself.
    pub async fn release_or_warn(self) {
        if let Err(error) = self.release().await {
            tracing::warn!("{error}; it expires by itself");
        }
    }
}

impl<L: LockStore> Drop for LockGuard<L> {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.take() {
            refresher.abort();
        }
    }
}

fn encode(record: &LockRecord) -> String {
    serde_json::to_string(record).expect("a lock record always serialises")
}

fn aws<'a>(app: &'a str, action: &'static str) -> impl FnOnce(AwsError) -> LockError + 'a {
    move |source| LockError::Aws {
        app: app.to_string(),
        action,
        source,
    }
}

/// Unique per acquisition: host, pid, the time to the nanosecond and a process-wide counter.
fn new_token(holder: &Holder, since: SystemTime) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!(
        "{}|{}|{}|{nanos}|{count}|{:?}",
        holder.user, holder.host, holder.pid, since
    );
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(12)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
