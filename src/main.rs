//! The `gridmap` binary: see `gridmap --help`.

fn main() {}
