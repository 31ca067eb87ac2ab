#![doc = include_str!("../README.md")]

/// `println!` for the command's output: a reader that has gone away (`jitgate test
/// policies/ | head`) ends the output quietly instead of panicking, and the exit code
/// stays the command's own.
macro_rules! outln {
    () => {
        $crate::files::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::files::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod demo;
mod documents;
mod envoy_cmd;
mod eval;
mod feed;
#[cfg(feature = "harness")]
mod feed_serve;
mod files;
mod rego_tests;
mod report;
#[cfg(feature = "harness")]
mod run_cmd;
mod scenarios;
mod test_cmd;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jitgate: enforce just-in-time access approvals.
#[derive(Parser)]
#[command(
    name = "jitgate",
    version,
    about = "jitgate: enforce just-in-time access approvals — decide requests with the native core or the \
             compiled Envoy filter, test Rego policies, mint and check approval tokens",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One decision from the native core, printed as JSON.
    Eval(eval::EvalArgs),
    /// One request through the compiled filter in the harness, printed as JSON.
    #[cfg(feature = "harness")]
    Run(run_cmd::RunArgs),
    /// Keys, tokens and live-trust documents: keygen, sign, verify, inspect; revocations,
    /// status-list, key-set.
    #[command(subcommand)]
    Token(Box<token::TokenCommand>),
    /// Run Rego unit tests (`test_*` rules) and scenario files (`*.scenarios.json`).
    Test(test_cmd::TestArgs),
    /// The demo: mint a key and approvals, decide a handful of requests.
    Demo(demo::DemoArgs),
    /// A local gate: a real Envoy with the compiled filter in front of an upstream.
    Envoy(envoy_cmd::EnvoyArgs),
}

/// What went wrong, and the exit code it means.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A usage, file or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A negative outcome that is not an error of use (exit 1).
    pub fn negative(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::usage(format!("{e:#}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => eval::run(args),
        #[cfg(feature = "harness")]
        Command::Run(args) => run_cmd::run(args),
        Command::Token(cmd) => token::run(*cmd),
        Command::Test(args) => test_cmd::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Envoy(args) => envoy_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("jitgate: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
