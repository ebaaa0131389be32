//! A stateful fake Truemed server for tests (feature `testing`). In progress.
