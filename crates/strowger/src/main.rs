//! `strowger`: one command line for the Strowger SIP system.
//!
//! Subcommands so far: `parse` (a SIP message linter).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod lint;
mod logging;
mod serve;
mod store;

#[derive(Parser, Debug)]
#[command(
    name = "strowger",
    version,
    about = "Strowger: a SIP system (RFC 3261) — parser, user agent and server",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once at start-up
enum Command {
    /// Parse one SIP message and print its structure; exit 0 when it is well-formed and
    /// complete, 1 (with the reason on stderr) when it is not.
    Parse(lint::ParseArgs),
    /// Run the registrar, location service and proxy (or redirect server): with no
    /// options, for the local domain on UDP and TCP 5060 with an SQLite store.
    Serve(serve::ServeArgs),
    /// Call a SIP URI with audio (play/record a WAV, DTMF), hang up after --duration.
    Call(agent::CallArgs),
    /// Answer every call (with echo, play or record) until SIGTERM or --max-calls.
    Answer(agent::AnswerArgs),
    /// Register at a registrar and stay registered (or --once, --unregister, --query).
    Register(agent::RegisterArgs),
    /// Send OPTIONS and print the response (status, Allow, Supported, round trip).
    Options(agent::OptionsArgs),
    /// Send a MESSAGE (RFC 3428) with a line of text.
    Message(agent::MessageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => lint::run(&args),
        Command::Serve(args) => serve::main(&args),
        Command::Call(args) => agent::call(args),
        Command::Answer(args) => agent::answer(args),
        Command::Register(args) => agent::register(args),
        Command::Options(args) => agent::options(args),
        Command::Message(args) => agent::message(args),
    }
}
