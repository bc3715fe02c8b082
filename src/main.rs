//! The `ebmc` command line. The only place that knows about the terminal.

use clap::{Parser, Subcommand, ValueEnum};
use ebmc::diag::{self, Color, Diagnostic};
use ebmc::driver;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ebmc", version, about = "A compiler for energy-based models")]
struct Cli {
    /// Colour in diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check models; report every error and warning.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print one stage of compilation.
    Emit {
        #[arg(value_enum)]
        stage: Stage,
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Stage {
    Ast,
}

/// Exit codes: 0 success, 1 user error (source, data, numeric failure), 2 usage or I/O.
const EXIT_USER: u8 = 1;
const EXIT_IO: u8 = 2;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: ebmc crashed — this is a bug in ebmc, not in your model.");
        eprintln!("{info}");
        eprintln!("Please report it with the input that caused it.");
    }));
    let cli = Cli::parse();
    let color = match cli.color {
        ColorChoice::Always => Color::Always,
        ColorChoice::Never => Color::Never,
        ColorChoice::Auto if std::io::stderr().is_terminal() => Color::Always,
        ColorChoice::Auto => Color::Never,
    };
    match cli.command {
        Command::Check { files } => check(&files, color),
        Command::Emit {
            stage: Stage::Ast,
            file,
        } => {
            let Some(bytes) = read(&file) else {
                return ExitCode::from(EXIT_IO);
            };
            match driver::emit_ast(&bytes) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(diags) => {
                    report(&file, &bytes, &diags, color);
                    ExitCode::from(EXIT_USER)
                }
            }
        }
    }
}

fn read(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn report(path: &Path, bytes: &[u8], diags: &[Diagnostic], color: Color) {
    let name = path.display().to_string();
    match std::str::from_utf8(bytes) {
        Ok(source) => eprint!("{}", diag::render(diags, &name, source, color)),
        Err(_) => diags
            .iter()
            .for_each(|d| eprint!("{}", diag::render_plain(d, &name))),
    }
}

fn check(files: &[PathBuf], color: Color) -> ExitCode {
    let mut errors = false;
    for file in files {
        let Some(bytes) = read(file) else {
            return ExitCode::from(EXIT_IO);
        };
        let checked = driver::check(&bytes);
        report(file, &bytes, &checked.diagnostics, color);
        errors |= checked.has_errors();
    }
    if errors {
        ExitCode::from(EXIT_USER)
    } else {
        ExitCode::SUCCESS
    }
}
