//! `pintu` command line.

fn main() {}
