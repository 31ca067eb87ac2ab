//! Benchmarks of `Gate::decide` (filled in below).
fn main() {}
