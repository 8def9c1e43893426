//! What every error of the tool can say about itself beyond its message: the exit code it maps to
//! and a hint for the user. Each module keeps its own error enum and implements this.

/// Exit codes are part of the interface (see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, or no differences.
    Success = 0,
    /// Differences found, or a deploy that failed and was rolled back.
    Changes = 1,
    /// Bad input or an error.
    Error = 2,
    /// The app is locked by another run.
    Locked = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Implemented by every module's error enum.
pub trait Diagnostic: std::error::Error {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        None
    }
}
