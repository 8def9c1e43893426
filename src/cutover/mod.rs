//! The cutover controller: a pure state machine from what was observed to the next step, and the driver that executes steps.
