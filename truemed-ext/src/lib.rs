//! Production Rust client for Truemed's Qualification Sessions API.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod webhook;
