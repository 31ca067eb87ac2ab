//! Placeholder so the workspace manifest loads (the `decide` bench is declared in
//! `policy-core/Cargo.toml`); the policy-core branch provides the real benchmark.
fn main() {}
