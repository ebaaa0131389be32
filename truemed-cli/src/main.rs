//! `truemed`: the command line for Truemed's Qualification Sessions API, on truemed-ext.
//! See README.md for the commands, output formats and exit codes.
#![forbid(unsafe_code)]

// Modules import in one direction: `cli` (the arguments), `fail` (errors, exit codes and
// the key's redaction) and `interrupt` are leaves ← `output` (the row writers), `config` ←
// one module per command (`sessions`, `update`, `watch`, `webhook`) ← `export` (on
// `sessions`) and `backfill` (on `update`).
mod backfill;
mod cli;
mod config;
mod export;
mod fail;
mod interrupt;
mod output;
mod sessions;
mod update;
mod watch;
mod webhook;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use truemed_ext::API_KEY_ENV;

use crate::cli::{Cli, Command, SessionsCommand, Shell, WebhookCommand};
use crate::fail::{add_secret, code, Failure};
use crate::interrupt::Interrupt;

fn main() -> ExitCode {
    // Whatever is written, even a usage error, goes through the redaction of the key.
    if let Ok(key) = std::env::var(API_KEY_ENV) {
        add_secret(key.trim());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = match error.use_stderr() {
                true => code::USAGE,
                false => code::OK,
            };
            let text = error.render().to_string();
            match error.use_stderr() {
                true => eprint!("{}", fail::redact(&text)),
                false => print!("{}", fail::redact(&text)),
            }
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            fail::report(&Failure::new(
                code::FAILED,
                format!("cannot start the async runtime: {e}"),
            ));
            return ExitCode::from(code::FAILED);
        }
    };
    let result = runtime.block_on(run(cli));
    // Requests still in flight (an interrupted command) are dropped, not awaited.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            fail::report(&failure);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let interrupt = Interrupt::install();
    let format = output::choose(cli.output);
    match &cli.command {
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut Cli::command(), "truemed", &mut std::io::stdout());
            Ok(())
        }
        Command::Webhook(WebhookCommand::Verify(args)) => webhook::verify(format, args),
        Command::Sessions(SessionsCommand::Backfill(args)) if args.dry_run => {
            backfill::backfill(None, format, args, &interrupt).await
        }
        Command::Sessions(command) => {
            let key = config::api_key(&cli)?;
            add_secret(&key);
            let client = config::client(&cli, &key)?;
            let until_interrupted = |what: &'static str| {
                let interrupt = interrupt.clone();
                async move {
                    interrupt.wait().await;
                    Failure::interrupted(format!("interrupted while {what}"))
                }
            };
            match command {
                SessionsCommand::Get { id } => tokio::select! {
                    result = sessions::get(&client, format, id) => result,
                    failure = until_interrupted("getting the session") => Err(failure),
                },
                SessionsCommand::List(args) => tokio::select! {
                    result = sessions::list(&client, format, args) => result,
                    failure = until_interrupted("listing") => Err(failure),
                },
                SessionsCommand::Export(args) => {
                    export::export(&client, cli.output, args, &interrupt).await
                }
                SessionsCommand::Update(args) => {
                    update::update(&client, format, args, &interrupt).await
                }
                SessionsCommand::Backfill(args) => {
                    backfill::backfill(Some(&client), format, args, &interrupt).await
                }
                SessionsCommand::Watch(args) => watch::watch(&client, args, &interrupt).await,
            }
        }
    }
}
