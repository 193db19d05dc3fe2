//! The `drape` command line.

fn main() {}
