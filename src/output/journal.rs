//! A deploy's journal: every cutover event with the time it was printed, kept in memory for
//! `deploy --report` (see [`crate::dashboard::model::report_steps`]).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::cutover::CutoverEvent;

/// One event and when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub at: SystemTime,
    pub event: CutoverEvent,
}

/// Shared by the clones of an [`super::OutputSettings`]; empty until events are printed.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<JournalEntry>>>);

impl Journal {
    pub fn record(&self, event: &CutoverEvent) {
        self.0
            .lock()
            .expect("the journal is never poisoned")
            .push(JournalEntry {
                at: SystemTime::now(),
                event: event.clone(),
            });
    }

    /// Every entry so far, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.0
            .lock()
            .expect("the journal is never poisoned")
            .clone()
    }
}
