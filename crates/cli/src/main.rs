//! The `proverka` command: run a node, manage keys, sign, submit, fetch and verify offline.
//!
//! Exit codes: 0 success; 1 verification failed; 2 bad usage or unreadable input;
//! 3 the ledger could not be reached; 4 the ledger refused the request.

mod bench;
mod bench_net;
mod client;
mod commands;
mod demo;
mod gateway;
mod loadgen;
mod net;
mod ports;

use std::process::ExitCode;

use clap::Parser;

use commands::Cli;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn verify(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: format!("verification failed: {m}"),
        }
    }
    pub fn input(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 2,
            message: m.to_string(),
        }
    }
    pub fn network(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 3,
            message: m.to_string(),
        }
    }
    pub fn refused(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 4,
            message: m.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("proverka: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
