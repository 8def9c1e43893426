use std::io::{IsTerminal, Write};
use std::sync::Arc;

use crate::cli::{GlobalArgs, OutputFormat};

/// How this run writes, decided once from the flags, the environment and the terminals.
#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub format: OutputFormat,
    /// Colour on stdout (only when stdout is a terminal).
    pub stdout_color: bool,
    /// Colour and live progress on stderr (only when stderr is a terminal).
    pub stderr_color: bool,
    pub stderr_is_terminal: bool,
    pub stdin_is_terminal: bool,
    /// -1 quiet, 0 normal, 1.. verbose.
    pub verbosity: i8,
    /// Set while `rotate` deploys this app among others at once (see [`Self::for_fleet_app`]).
    fleet_app: Option<Arc<str>>,
    /// Where cutover events are also recorded (`deploy --report`), see [`Self::with_journal`].
    pub journal: Option<super::journal::Journal>,
}

impl OutputSettings {
    pub fn from_args(args: &GlobalArgs) -> OutputSettings {
        let no_color =
            args.no_color || std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let stdout_terminal = std::io::stdout().is_terminal();
        let stderr_terminal = std::io::stderr().is_terminal();
        console::set_colors_enabled(!no_color && stdout_terminal);
        console::set_colors_enabled_stderr(!no_color && stderr_terminal);
        OutputSettings {
            format: args.output,
            stdout_color: !no_color && stdout_terminal,
            stderr_color: !no_color && stderr_terminal,
            stderr_is_terminal: stderr_terminal,
            stdin_is_terminal: std::io::stdin().is_terminal(),
            verbosity: if args.quiet {
                -1
            } else {
                args.verbose.min(100) as i8
            },
            fleet_app: None,
            journal: None,
        }
    }

    /// Settings for library callers and tests: no colour, no terminal.
    pub fn plain(format: OutputFormat) -> OutputSettings {
        OutputSettings {
            format,
            stdout_color: false,
            stderr_color: false,
            stderr_is_terminal: false,
            stdin_is_terminal: false,
            verbosity: 0,
            fleet_app: None,
            journal: None,
        }
    }

    /// These settings, with every cutover event printed also recorded in `journal`.
    pub fn with_journal(&self, journal: super::journal::Journal) -> OutputSettings {
        OutputSettings {
            journal: Some(journal),
            ..self.clone()
        }
    }

    /// The settings of one app's deploy inside `rotate`, which runs several at once and prints
    /// one summary: the deploy writes nothing on stdout (its data is in the summary), and its
    /// progress goes to stderr as plain lines (no spinner: several would overwrite each other),
    /// each starting with `[app] ` so interleaved lines can be told apart.
    pub fn for_fleet_app(&self, app: &str) -> OutputSettings {
        OutputSettings {
            format: OutputFormat::Text,
            stderr_is_terminal: false,
            stdin_is_terminal: false,
            fleet_app: Some(Arc::from(app)),
            ..self.clone()
        }
    }

    /// False inside `rotate`'s deploys: their results go into its summary instead of stdout.
    pub fn stdout_is_mine(&self) -> bool {
        self.fleet_app.is_none()
    }

    /// Writes a progress line (or several) to stderr, each prefixed with `[app] ` inside
    /// `rotate`.
    pub fn progress(&self, text: &str) {
        let text = super::secrets::scrub(text);
        let mut stderr = std::io::stderr().lock();
        for line in text.lines() {
            let _ = match &self.fleet_app {
                Some(app) => writeln!(stderr, "[{app}] {line}"),
                None => writeln!(stderr, "{line}"),
            };
        }
    }

    pub fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    pub fn stdout_palette(&self) -> Palette {
        Palette {
            enabled: self.stdout_color,
        }
    }

    pub fn stderr_palette(&self) -> Palette {
        Palette {
            enabled: self.stderr_color,
        }
    }
}

/// Colours that turn into plain text when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    fn paint(&self, text: &str, style: console::Style) -> String {
        if self.enabled {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }

    pub fn added(&self, text: &str) -> String {
        self.paint(text, console::Style::new().green())
    }

    pub fn removed(&self, text: &str) -> String {
        self.paint(text, console::Style::new().red())
    }

    pub fn changed(&self, text: &str) -> String {
        self.paint(text, console::Style::new().yellow())
    }

    pub fn warning(&self, text: &str) -> String {
        self.paint(text, console::Style::new().yellow().bold())
    }

    pub fn error(&self, text: &str) -> String {
        self.paint(text, console::Style::new().red().bold())
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, console::Style::new().bold())
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(text, console::Style::new().dim())
    }

    pub fn hint(&self, text: &str) -> String {
        self.paint(text, console::Style::new().cyan().bold())
    }
}
