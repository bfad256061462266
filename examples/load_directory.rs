//! Loads a directory file and prints how long it took: the measurement behind the directory's
//! scale goal. Run it under `/usr/bin/time -v` for the peak RSS:
//!
//! ```text
//! /usr/bin/time -v target/release/examples/load_directory target/directory-1m.toml
//! ```

use std::path::PathBuf;
use std::time::Instant;
use supportgate::address::AddressRules;
use supportgate::directory::Directory;

fn main() {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: load_directory DIRECTORY.toml");
        std::process::exit(2);
    };
    let start = Instant::now();
    let directory = match Directory::load(&path, &AddressRules::default()) {
        Ok(directory) => directory,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let elapsed = start.elapsed();
    println!(
        "accounts={} agents={} findings={} elapsed={:.3}s",
        directory.account_count(),
        directory.agent_count(),
        directory.findings().len(),
        elapsed.as_secs_f64()
    );
    for finding in directory.findings().iter().take(10) {
        println!("{finding}");
    }
}
