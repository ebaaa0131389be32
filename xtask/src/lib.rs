//! Project automation for truemed-rs, as a library so tests can call it directly
//! (a test that shelled out to `cargo xtask` would wait forever on cargo's build lock).

pub mod codegen;
