//! Reference proxy-wasm filters for the jitgate harness self-tests; the filters are the
//! examples of this crate (`examples/*.rs`).
