//! Integration tests live in `tests/`. This library holds only the workspace README's
//! examples, as doctests (the README is outside every published package, so no published
//! crate can include it).

/// The workspace README's examples, compiled as doctests so the README cannot drift.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct WorkspaceReadmeDoctests;
