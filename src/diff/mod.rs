//! Pure template diff: (old, new) → StackDiff, and its text and JSON renderers.
