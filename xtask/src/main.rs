//! Project automation for truemed-rs.
//!
//! `cargo xtask codegen` regenerates `truemed-api` from `openapi/truemed.yaml`;
//! `cargo xtask codegen --check` fails, showing what differs, when the checked-in code is
//! stale.

use std::process::ExitCode;

use xtask::codegen;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => match args[1..] {
            [] => codegen::run(codegen::Mode::Write),
            [ref flag] if flag == "--check" => codegen::run(codegen::Mode::Check),
            _ => Err(anyhow::anyhow!("usage: cargo xtask codegen [--check]")),
        },
        _ => Err(anyhow::anyhow!(
            "usage: cargo xtask codegen [--check]\n\n  codegen          regenerate truemed-api from openapi/truemed.yaml\n  codegen --check  fail if the checked-in generated code is stale"
        )),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
