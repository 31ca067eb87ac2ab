#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod artifacts;
mod cases;
mod decider;

pub use artifacts::filter_wasm;
pub use cases::{place_token, Case, CaseError, CaseFile, Expect, Keyring};
pub use decider::{Decider, Native, Observed};
