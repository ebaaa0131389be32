#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call_context;
mod generated;
mod json;
#[cfg(feature = "httpmock")]
#[cfg_attr(docsrs, doc(cfg(feature = "httpmock")))]
pub mod mock;
mod status;
mod status_list;
mod task;
mod values;

pub use call_context::{
    CallContext, Refusal, ResponseHead, DEFAULT_MAX_ERROR_BODY, DEFAULT_MAX_SUCCESS_BODY,
};
pub use generated::*;
pub use status::QualificationSessionStatus;
pub use status_list::{InvalidStatusList, StatusList};
pub use task::{RuntimeShutDown, Spawned};
pub use values::{Amount, Timestamp};
