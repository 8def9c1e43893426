//! Release naming, cutover's own tags, discovering an app's stacks and which one is live, retention.
