//! The cutover controller's events as the user sees them: one JSON object per line on stdout
//! with `--output json`, timestamped lines on stderr otherwise.

use std::io::Write;
use std::time::SystemTime;

use super::{OutputSettings, Palette};
use crate::cutover::CutoverEvent;

pub struct CutoverPrinter {
    json: bool,
    quiet: bool,
    palette: Palette,
}

impl CutoverPrinter {
    pub fn new(settings: &OutputSettings) -> CutoverPrinter {
        CutoverPrinter {
            json: settings.json(),
            quiet: settings.verbosity < 0,
            palette: settings.stderr_palette(),
        }
    }

    pub fn print(&self, event: &CutoverEvent) {
        if self.json {
            let line = serde_json::to_string(event).expect("events always serialize");
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
            return;
        }
        if self.quiet
            && !matches!(
                event,
                CutoverEvent::ShiftedBack { .. } | CutoverEvent::Failed { .. }
            )
        {
            return;
        }
        let time = humantime::format_rfc3339_seconds(SystemTime::now());
        eprintln!("{time} {}", describe(event, self.palette));
    }
}

fn seconds(duration: std::time::Duration) -> String {
    humantime::format_duration(std::time::Duration::from_secs(duration.as_secs().max(
        u64::from(duration.subsec_nanos() > 0 && duration.as_secs() == 0),
    )))
    .to_string()
}

pub fn describe(event: &CutoverEvent, palette: Palette) -> String {
    match event {
        CutoverEvent::Started {
            candidate,
            previous,
            weights,
            plan,
        } => {
            let steps = plan
                .iter()
                .map(|weight| format!("{weight}%"))
                .collect::<Vec<_>>()
                .join(" → ");
            match previous {
                Some(previous) => format!(
                    "cutover {previous} → {candidate}: steps {steps}; router now: {weights}"
                ),
                None => format!("cutover to {candidate} (first release): steps {steps}"),
            }
        }
        CutoverEvent::WeightsSet { weights, step } => format!(
            "{} step {}/{}: {weights}",
            palette.bold("traffic"),
            step.index + 1,
            step.count
        ),
        CutoverEvent::GatesChecked { release, passed, report } => {
            if *passed {
                let gates = report.results.len();
                format!("{} {release}: {gates} gate(s) passed", palette.added("gates"))
            } else {
                format!("{} {release}: {report}", palette.removed("gates failed"))
            }
        }
        CutoverEvent::Baking { step, left, next_check } => format!(
            "baking at {}% (step {}/{}): {} left, next gate check in {}",
            step.weight,
            step.index + 1,
            step.count,
            seconds(*left),
            seconds(*next_check)
        ),
        CutoverEvent::WaitingForStack { stack, state, retry_in } => {
            format!("waiting for {stack} ({state}), next look in {}", seconds(*retry_in))
        }
        CutoverEvent::WeightsChangedOutside { expected, found } => format!(
            "{} the router changed outside this run: expected {expected}, found {found}; the step's bake starts over",
            palette.warning("warning:")
        ),
        CutoverEvent::Retrying { action, attempt, delay, error } => format!(
            "retrying {action} (attempt {attempt}) in {}: {error}",
            seconds(*delay)
        ),
        CutoverEvent::ShiftedBack { weights, reason } => format!(
            "{} {reason}; traffic now: {weights}",
            palette.error("shifted back:")
        ),
        CutoverEvent::Abandoned { reason } => {
            format!("{} {reason}", palette.warning("abandoned:"))
        }
        CutoverEvent::Completed { weights } => {
            format!("{} {weights}", palette.added("cutover complete:"))
        }
        CutoverEvent::Failed { reason } => format!("{} {reason}", palette.error("cutover failed:")),
    }
}
