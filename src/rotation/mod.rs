//! Pure rotation policy: which apps are due for a rebuild, and why.
