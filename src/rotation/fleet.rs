//! Rotating a fleet: what each app's run ended in, the second look under the app's lock, the
//! summary table and the run's exit code. Pure: `cutover rotate` observes and acts, this decides
//! and words.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{due_for_rotation, human, AppRotationFacts, RotationPolicy, RotationReason};
use crate::error::Exit;

/// What the look taken once the app's lock is held says. The first look (without the lock) only
/// picks the candidates: another run may have rotated the app between that look and our lock,
/// and rotating it again would make two new releases where one was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnderLock {
    /// Still due: rotate, for this reason (ages and images as seen now).
    Rotate(RotationReason),
    /// No longer due, and another release is live than at the first look: another run rotated
    /// (or deployed) the app meanwhile.
    RotatedMeanwhile { live_release: Option<String> },
    /// No longer due with the same release live (a spec or image changed back meanwhile).
    NoLongerDue,
}

/// Decides from the first look and the look under the lock.
pub fn recheck_under_lock(
    first_look: &AppRotationFacts,
    under_lock: &AppRotationFacts,
    policy: &RotationPolicy,
    now: SystemTime,
) -> UnderLock {
    match due_for_rotation(under_lock, policy, now) {
        Some(reason) => UnderLock::Rotate(reason),
        None if under_lock.live_release != first_look.live_release => UnderLock::RotatedMeanwhile {
            live_release: under_lock.live_release.clone(),
        },
        None => UnderLock::NoLongerDue,
    }
}

/// How one app's part of the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AppResult {
    NotDue,
    /// `--dry-run`: due, nothing done.
    Due,
    /// A new release was created and took the traffic; `release` is its stack name.
    Rotated {
        release: String,
    },
    /// Another run holds the app's lock (`holder` as the lock record reads). Not a failure: that
    /// run is deploying or rotating the app.
    SkippedLocked {
        holder: String,
    },
    /// Due at the first look, not once the lock was taken: see [`UnderLock`]. Serialized as
    /// `now_live`, beside the row's own `live_release` (the first look's).
    RotatedMeanwhile {
        #[serde(rename = "now_live")]
        live_release: Option<String>,
    },
    NoLongerDue,
    /// Due, but the run was interrupted (Ctrl-C, SIGTERM) before its rotation started.
    NotStarted,
    /// The app could not be looked at or its rotation failed; `exit_code` is what `cutover
    /// deploy` of the app would have exited with.
    Failed {
        error: String,
        exit_code: u8,
    },
}

impl AppResult {
    /// Whether the run can exit 0 with this app in it: every due app rotated or skipped for a
    /// lock, or found rotated by another run.
    pub fn is_ok(&self) -> bool {
        !matches!(self, AppResult::Failed { .. } | AppResult::NotStarted)
    }

    /// The word of the summary table's result column.
    pub fn word(&self) -> &'static str {
        match self {
            AppResult::NotDue => "not due",
            AppResult::Due => "due",
            AppResult::Rotated { .. } => "rotated",
            AppResult::SkippedLocked { .. } => "skipped",
            AppResult::RotatedMeanwhile { .. } | AppResult::NoLongerDue => "not due any more",
            AppResult::NotStarted => "not started",
            AppResult::Failed { .. } => "failed",
        }
    }
}

/// `rotated: web-r2`, `skipped: locked by …`, `failed: …`.
impl fmt::Display for AppResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppResult::Rotated { release } => write!(f, "rotated: {release} is live"),
            AppResult::SkippedLocked { holder } => write!(f, "skipped: locked by {holder}"),
            AppResult::RotatedMeanwhile {
                live_release: Some(live),
            } => write!(
                f,
                "not due any more: {live} went live meanwhile (another run)"
            ),
            AppResult::RotatedMeanwhile { live_release: None } => {
                f.write_str("not due any more: nothing is live now")
            }
            AppResult::NoLongerDue => f.write_str("not due any more"),
            AppResult::NotStarted => f.write_str("not started: the run was interrupted"),
            AppResult::Failed { error, .. } => write!(f, "failed: {error}"),
            other => f.write_str(other.word()),
        }
    }
}

/// One line of the summary: one app of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationRow {
    pub app: String,
    /// Where the app lives, as far as STS and the configuration say.
    pub account: Option<String>,
    pub region: Option<String>,
    /// `None` when the app could not be looked at.
    pub due: Option<bool>,
    /// Why it was due (at the look under the lock when there was one).
    pub reason: Option<RotationReason>,
    /// The live release's stack at the first look.
    pub live_release: Option<String>,
    #[serde(flatten)]
    pub result: AppResult,
    /// Wall time of this app's own work (its look, its rotation; not its wait for a free job),
    /// in milliseconds.
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
}

impl RotationRow {
    pub fn new(app: &str) -> RotationRow {
        RotationRow {
            app: app.to_string(),
            account: None,
            region: None,
            due: None,
            reason: None,
            live_release: None,
            result: AppResult::NotDue,
            elapsed: Duration::ZERO,
        }
    }

    /// `web-r1 → web-r2` for a rotation, the live release otherwise, `-` with nothing live.
    pub fn releases(&self) -> String {
        let live = self.live_release.as_deref().unwrap_or("-");
        match &self.result {
            AppResult::Rotated { release } => format!("{live} → {release}"),
            _ => live.to_string(),
        }
    }

    /// `123456789012/us-east-1`, with `?` for what is unknown.
    pub fn place(&self) -> String {
        format!(
            "{}/{}",
            self.account.as_deref().unwrap_or("?"),
            self.region.as_deref().unwrap_or("?")
        )
    }

    /// The why column: the reason it was due, then what stopped or skipped it.
    pub fn why(&self) -> String {
        let detail = match &self.result {
            AppResult::Rotated { .. } | AppResult::Due | AppResult::NotDue => None,
            other => Some(other.to_string()),
        };
        match (&self.reason, detail) {
            (Some(reason), Some(detail)) => format!("{reason}; {detail}"),
            (Some(reason), None) => reason.to_string(),
            (None, Some(detail)) => detail,
            (None, None) if self.live_release.is_none() && self.due == Some(false) => {
                "no live release".to_string()
            }
            (None, None) => String::new(),
        }
    }
}

/// 0 when every app is ok ([`AppResult::is_ok`]), else 1: a scheduler's alarm on the exit code
/// then means an app that was due is still due.
pub fn fleet_exit(rows: &[RotationRow]) -> Exit {
    if rows.iter().all(|row| row.result.is_ok()) {
        Exit::Success
    } else {
        Exit::Changes
    }
}

/// `12 apps: 8 due, 6 rotated, 1 skipped (locked), 1 failed`.
pub fn tally(rows: &[RotationRow]) -> String {
    let count =
        |wanted: fn(&AppResult) -> bool| rows.iter().filter(|row| wanted(&row.result)).count();
    let due = rows.iter().filter(|row| row.due == Some(true)).count();
    let mut parts = vec![format!("{} apps: {due} due", rows.len())];
    for (label, number) in [
        ("rotated", count(|r| matches!(r, AppResult::Rotated { .. }))),
        (
            "skipped (locked)",
            count(|r| matches!(r, AppResult::SkippedLocked { .. })),
        ),
        (
            "not due any more",
            count(|r| {
                matches!(
                    r,
                    AppResult::RotatedMeanwhile { .. } | AppResult::NoLongerDue
                )
            }),
        ),
        ("not started", count(|r| matches!(r, AppResult::NotStarted))),
        ("failed", count(|r| matches!(r, AppResult::Failed { .. }))),
    ] {
        if number > 0 {
            parts.push(format!("{number} {label}"));
        }
    }
    parts.join(", ")
}

/// The summary table, one row per app in name order, columns padded to their widest cell, then
/// the tally. `paint` colours a result word (identity without colour).
pub fn render_table(rows: &[RotationRow], paint: impl Fn(&AppResult, &str) -> String) -> String {
    const HEADER: [&str; 7] = [
        "APP",
        "ACCOUNT/REGION",
        "DUE",
        "RELEASE",
        "RESULT",
        "TIME",
        "WHY",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|row| {
            [
                row.app.clone(),
                row.place(),
                match row.due {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "?",
                }
                .to_string(),
                row.releases(),
                row.result.word().to_string(),
                elapsed(row.elapsed),
                row.why(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(console::measure_text_width);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(console::measure_text_width(cell));
        }
    }
    let mut text = String::new();
    let mut push_line = |line: [String; 7], result: Option<&AppResult>| {
        let last = line.len() - 1;
        let mut out = String::new();
        for (column, (cell, width)) in line.iter().zip(widths).enumerate() {
            if column == last {
                out.push_str(cell);
                break;
            }
            let padded = console::pad_str(cell, width, console::Alignment::Left, None);
            match (column, result) {
                (4, Some(result)) => out.push_str(&paint(result, &padded)),
                _ => out.push_str(&padded),
            }
            out.push_str("  ");
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    push_line(HEADER.map(str::to_string), None);
    for (line, row) in cells.into_iter().zip(rows) {
        push_line(line, Some(&row.result));
    }
    text.push_str(&tally(rows));
    text.push('\n');
    text
}

/// Seconds below a minute (`41s`), else the rotation policy's scale (`2m`, `1h 5m`).
fn elapsed(duration: Duration) -> String {
    if duration < Duration::from_secs(60) {
        format!("{}s", duration.as_secs())
    } else {
        human(duration)
    }
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis().min(u128::from(u64::MAX)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::TooOld;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + 1000 * DAY
    }

    fn facts(live: Option<&str>, age: Duration) -> AppRotationFacts {
        AppRotationFacts {
            app: "web".into(),
            live_release: live.map(str::to_string),
            live_release_created: Some(now() - age),
            live_ami: None,
            newest_ami: None,
        }
    }

    fn max_age(days: u32) -> RotationPolicy {
        RotationPolicy {
            max_age: Some(days * DAY),
            refresh_ami: false,
        }
    }

    #[test]
    fn an_app_still_due_under_the_lock_is_rotated_with_the_fresh_reason() {
        let first = facts(Some("web-r1"), 31 * DAY);
        let later = facts(Some("web-r1"), 31 * DAY + 3600 * Duration::from_secs(1));
        let UnderLock::Rotate(reason) = recheck_under_lock(&first, &later, &max_age(30), now())
        else {
            panic!("still due");
        };
        assert_eq!(
            reason.too_old,
            Some(TooOld {
                age: 31 * DAY + Duration::from_secs(3600),
                max_age: 30 * DAY
            })
        );
    }

    #[test]
    fn an_app_another_run_rotated_meanwhile_is_not_rotated_again() {
        let first = facts(Some("web-r1"), 31 * DAY);
        let rotated = facts(Some("web-r2"), Duration::from_secs(5));
        assert_eq!(
            recheck_under_lock(&first, &rotated, &max_age(30), now()),
            UnderLock::RotatedMeanwhile {
                live_release: Some("web-r2".into())
            }
        );
        let rolled_away = facts(None, Duration::ZERO);
        assert_eq!(
            recheck_under_lock(&first, &rolled_away, &max_age(30), now()),
            UnderLock::RotatedMeanwhile { live_release: None }
        );
    }

    #[test]
    fn a_new_release_that_is_itself_due_is_rotated() {
        // Another run deployed a release that is already too old by this policy (an
        // operator's --release of an old build is still judged by its creation date).
        let first = facts(Some("web-r1"), 40 * DAY);
        let other = facts(Some("web-r2"), 35 * DAY);
        assert!(matches!(
            recheck_under_lock(&first, &other, &max_age(30), now()),
            UnderLock::Rotate(_)
        ));
    }

    #[test]
    fn same_release_no_longer_due_is_said_so() {
        let first = facts(Some("web-r1"), 31 * DAY);
        assert_eq!(
            recheck_under_lock(&first, &first, &max_age(60), now()),
            UnderLock::NoLongerDue
        );
    }

    fn row(app: &str, result: AppResult) -> RotationRow {
        RotationRow {
            due: Some(!matches!(result, AppResult::NotDue)),
            live_release: Some(format!("{app}-r1")),
            result,
            ..RotationRow::new(app)
        }
    }

    #[test]
    fn the_run_exits_0_only_when_every_due_app_rotated_or_was_skipped_for_a_lock() {
        let fine = vec![
            row("a", AppResult::NotDue),
            row(
                "b",
                AppResult::Rotated {
                    release: "b-r2".into(),
                },
            ),
            row("c", AppResult::SkippedLocked { holder: "x".into() }),
            row(
                "d",
                AppResult::RotatedMeanwhile {
                    live_release: Some("d-r2".into()),
                },
            ),
            row("e", AppResult::NoLongerDue),
            row("f", AppResult::Due),
        ];
        assert_eq!(fleet_exit(&fine), Exit::Success);
        assert_eq!(fleet_exit(&[]), Exit::Success);
        for bad in [
            AppResult::Failed {
                error: "stack g-r2 CREATE_FAILED".into(),
                exit_code: 1,
            },
            AppResult::NotStarted,
        ] {
            let mut rows = fine.clone();
            rows.push(row("g", bad));
            assert_eq!(fleet_exit(&rows), Exit::Changes);
            assert_eq!(fleet_exit(&rows).code(), 1);
        }
    }

    #[test]
    fn the_table_lines_up_and_says_why() {
        let mut rotated = row(
            "api",
            AppResult::Rotated {
                release: "api-r2".into(),
            },
        );
        rotated.account = Some("123456789012".into());
        rotated.region = Some("us-east-1".into());
        rotated.reason = Some(RotationReason {
            too_old: Some(TooOld {
                age: 31 * DAY,
                max_age: 30 * DAY,
            }),
            stale_ami: None,
        });
        rotated.elapsed = Duration::from_millis(41_900);
        let mut failed = row(
            "shop",
            AppResult::Failed {
                error: "stack shop-r2 CREATE_FAILED".into(),
                exit_code: 1,
            },
        );
        failed.reason = rotated.reason.clone();
        failed.elapsed = Duration::from_secs(125);
        let mut idle = row("web", AppResult::NotDue);
        idle.live_release = None;
        let table = render_table(&[rotated, failed, idle], |_, text| text.to_string());
        assert_eq!(
            table,
            "\
APP   ACCOUNT/REGION          DUE  RELEASE          RESULT   TIME  WHY
api   123456789012/us-east-1  yes  api-r1 → api-r2  rotated  41s   live release is 31d old (max_age 30d)
shop  ?/?                     yes  shop-r1          failed   2m    live release is 31d old (max_age 30d); failed: stack shop-r2 CREATE_FAILED
web   ?/?                     no   -                not due  0s    no live release
3 apps: 2 due, 1 rotated, 1 failed
"
        );
    }

    #[test]
    fn rows_serialize_flat_with_the_result_kind() {
        let mut skipped = row(
            "web",
            AppResult::SkippedLocked {
                holder: "ci@runner (pid 7)".into(),
            },
        );
        skipped.elapsed = Duration::from_millis(1500);
        assert_eq!(
            serde_json::to_value(&skipped).unwrap(),
            serde_json::json!({
                "app": "web", "account": null, "region": null, "due": true, "reason": null,
                "live_release": "web-r1", "result": "skipped_locked",
                "holder": "ci@runner (pid 7)", "elapsed_ms": 1500
            })
        );
    }

    #[test]
    fn a_release_that_went_live_meanwhile_is_its_own_key_beside_the_first_looks() {
        let meanwhile = row(
            "web",
            AppResult::RotatedMeanwhile {
                live_release: Some("web-r2".into()),
            },
        );
        let text = serde_json::to_string(&meanwhile).unwrap();
        assert_eq!(text.matches("\"live_release\"").count(), 1, "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["live_release"], "web-r1");
        assert_eq!(value["now_live"], "web-r2");
        assert_eq!(value["result"], "rotated_meanwhile");
    }
}
