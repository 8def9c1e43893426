//! The cutover controller's events as the user sees them: one JSON object per line on stdout
//! with `--output json`, timestamped lines on stderr otherwise (the event's own Display).

use std::io::Write;
use std::time::SystemTime;

use super::{OutputSettings, Palette};
use crate::cutover::CutoverEvent;

pub struct CutoverPrinter {
    json: bool,
    quiet: bool,
    palette: Palette,
    settings: OutputSettings,
}

impl CutoverPrinter {
    pub fn new(settings: &OutputSettings) -> CutoverPrinter {
        CutoverPrinter {
            json: settings.json(),
            quiet: settings.verbosity < 0,
            palette: settings.stderr_palette(),
            settings: settings.clone(),
        }
    }

    pub fn print(&self, event: &CutoverEvent) {
        if let Some(journal) = &self.settings.journal {
            journal.record(event);
        }
        if self.json {
            let line = serde_json::to_string(event).expect("events always serialize");
            let line = super::secrets::scrub(&line);
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
            return;
        }
        let trouble = matches!(
            event,
            CutoverEvent::ShiftedBack { .. } | CutoverEvent::Failed { .. }
        );
        if self.quiet && !trouble {
            return;
        }
        let text = super::secrets::scrub(&event.to_string()).into_owned();
        let text = match event {
            _ if trouble => self.palette.error(&text),
            CutoverEvent::Completed { .. } => self.palette.added(&text),
            CutoverEvent::WeightsSet { .. } => self.palette.bold(&text),
            CutoverEvent::GatesChecked { passed: false, .. }
            | CutoverEvent::WeightsChangedOutside { .. }
            | CutoverEvent::Abandoned { .. } => self.palette.warning(&text),
            _ => text,
        };
        let time = humantime::format_rfc3339_seconds(SystemTime::now());
        self.settings.progress(&format!("{time} {text}"));
    }
}
