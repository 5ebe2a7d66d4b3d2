//! Specification tests for `proverka-statement`, one module per concern. Each test name states
//! a rule; `docs/statements.md` is the prose version.

mod batch;
mod golden;
mod keys;
mod parse_rules;
mod sign_verify;
mod support;
mod vectors;
