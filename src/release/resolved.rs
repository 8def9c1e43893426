//! Resolved parameter values, which know which of them are secret and never print those.

use std::collections::BTreeSet;
use std::fmt;

use indexmap::IndexMap;

/// What the log and the plan show instead of a secret value.
pub const MASK: &str = "****";

/// One resolved value. Debug never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedValue {
    value: String,
    secret: bool,
}

impl ResolvedValue {
    pub fn new(value: impl Into<String>, secret: bool) -> ResolvedValue {
        ResolvedValue {
            value: value.into(),
            secret,
        }
    }

    /// The real value: for AWS calls only, never for output.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// What may be printed: the value, or [`MASK`] for a secret.
    pub fn shown(&self) -> &str {
        if self.secret {
            MASK
        } else {
            &self.value
        }
    }
}

impl fmt::Debug for ResolvedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl fmt::Display for ResolvedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

/// The parameters of one release, in the spec's order. Secret: NoEcho in the template, or read
/// from an SSM SecureString. Debug and Display mask secrets.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ResolvedParameters {
    values: IndexMap<String, ResolvedValue>,
}

impl ResolvedParameters {
    pub fn get(&self, name: &str) -> Option<&ResolvedValue> {
        self.values.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ResolvedValue)> {
        self.values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(ResolvedValue::is_secret)
    }

    /// Names whose values must never be printed (for the diff's masking).
    pub fn secret_names(&self) -> BTreeSet<String> {
        self.values
            .iter()
            .filter(|(_, value)| value.secret)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Name → real value, for `CreateStack`.
    pub fn to_stack_parameters(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(name, value)| (name.clone(), value.value.clone()))
            .collect()
    }

    /// Name → printable value, for plans and JSON output.
    pub fn to_shown(&self) -> IndexMap<String, String> {
        self.values
            .iter()
            .map(|(name, value)| (name.clone(), value.shown().to_string()))
            .collect()
    }
}

/// Values from elsewhere than the spec (a retired release's recorded parameters, rebuilt).
impl FromIterator<(String, ResolvedValue)> for ResolvedParameters {
    fn from_iter<T: IntoIterator<Item = (String, ResolvedValue)>>(iter: T) -> Self {
        ResolvedParameters {
            values: iter.into_iter().collect(),
        }
    }
}

impl fmt::Debug for ResolvedParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl fmt::Display for ResolvedParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.iter() {
            writeln!(f, "{name} = {value}")?;
        }
        Ok(())
    }
}
