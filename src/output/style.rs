use std::io::IsTerminal;

use crate::cli::{GlobalArgs, OutputFormat};

/// How this run writes, decided once from the flags, the environment and the terminals.
#[derive(Debug, Clone, Copy)]
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
