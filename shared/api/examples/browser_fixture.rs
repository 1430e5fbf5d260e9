//! Browser-test fixture (being written).

fn main() {}
