//! Showing a stack operation as it happens: a spinner with the status and elapsed time on a
//! terminal (events printed above it), plain timestamped lines otherwise. Both write to stderr.

use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::wait::WaitDisplay;
use crate::aws::cloudformation::StackEvent;
use crate::output::{OutputSettings, Palette};

/// The display that suits where stderr goes; silent with `--quiet`.
pub fn for_settings(settings: &OutputSettings) -> Box<dyn WaitDisplay> {
    if settings.verbosity < 0 {
        Box::new(Silent)
    } else if settings.stderr_is_terminal {
        Box::new(Spinner::new(settings.stderr_palette()))
    } else {
        Box::new(PlainLines {
            settings: settings.clone(),
        })
    }
}

/// `2026-11-23T14:05:01Z web-r2 AWS::EC2::SecurityGroup WebSg CREATE_COMPLETE [reason]`
pub fn event_line(stack: &str, event: &StackEvent, palette: Palette) -> String {
    let timestamp = event
        .timestamp
        .map(|time| humantime::format_rfc3339_seconds(time).to_string())
        .unwrap_or_else(|| humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
    let status = if event.status.ends_with("_FAILED") {
        palette.removed(&event.status)
    } else if event.status.ends_with("_COMPLETE") && !event.status.starts_with("ROLLBACK") {
        palette.added(&event.status)
    } else {
        palette.changed(&event.status)
    };
    let mut line = format!(
        "{timestamp} {stack} {} {} {status}",
        event.resource_type, event.logical_id
    );
    if let Some(reason) = event.reason.as_deref().filter(|reason| !reason.is_empty()) {
        line.push(' ');
        line.push_str(reason);
    }
    line
}

struct Silent;

impl WaitDisplay for Silent {
    fn event(&mut self, _stack: &str, _event: &StackEvent) {}
    fn status(&mut self, _stack: &str, _status: &str) {}
    fn finish(&mut self) {}
}

struct PlainLines {
    /// Where the lines go (prefixed with the app inside `rotate`).
    settings: OutputSettings,
}

impl WaitDisplay for PlainLines {
    fn event(&mut self, stack: &str, event: &StackEvent) {
        self.settings
            .progress(&event_line(stack, event, Palette { enabled: false }));
    }

    // Every status change is also a stack-level event, already printed as a line.
    fn status(&mut self, _stack: &str, _status: &str) {}

    fn finish(&mut self) {}
}

struct Spinner {
    bar: Option<ProgressBar>,
    palette: Palette,
}

impl Spinner {
    fn new(palette: Palette) -> Spinner {
        Spinner { bar: None, palette }
    }

    fn bar(&mut self) -> &ProgressBar {
        self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
    }
}

impl WaitDisplay for Spinner {
    fn event(&mut self, stack: &str, event: &StackEvent) {
        let line = event_line(stack, event, self.palette);
        self.bar().println(line);
    }

    fn status(&mut self, stack: &str, status: &str) {
        let message = format!("{stack} {status}");
        self.bar().set_message(message);
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
