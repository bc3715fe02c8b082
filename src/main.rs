//! The `ebmc` command line. The only place that knows about the terminal.

use clap::{Parser, Subcommand, ValueEnum};
use ebmc::diag::{self, Color, Diagnostic};
use ebmc::driver::{self, PlotFailure, PlotKind as Kind, PlotOptions, PointSource, RunOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `eprintln!` that cannot panic: when standard error is closed or full there is nowhere left
/// to report anything, so the message is lost and the exit code still tells what happened.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// [`say!`] without the newline (`eprint!`).
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

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
    /// Format sources in place, or with --check list those not formatted; `-` formats
    /// standard input to standard output.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: list the files that are not formatted and exit 1 if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Compile, train (with `train` and `data`), infer and report metrics.
    Run {
        file: PathBuf,
        /// The model to run when the file holds several.
        #[arg(long)]
        model: Option<String>,
        /// Seed for the data split, initialisation and shuffling (overrides the model's).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the trained weights here (JSON, atomically).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Load weights from here and skip training.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Write predictions here: one CSV row per test example.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the metrics here (JSON).
        #[arg(long)]
        metrics: Option<PathBuf>,
        /// No progress bar and no metrics block.
        #[arg(long)]
        quiet: bool,
        /// Run on the reference interpreter instead of native code.
        #[arg(long)]
        interp: bool,
        /// Threads for training and for inferring a data set's rows (default: every core); the weights and answers do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// The memory the run may use (`512M`, `4G`); a run estimated to need more is refused
        /// before it allocates. Default: the machine's memory, `ulimit -v` or the container's
        /// limit, whichever is smallest.
        #[arg(long, value_parser = ebmc::runtime::memory::parse_size, value_name = "SIZE")]
        memory: Option<u64>,
        /// Write the loss per epoch, with the test set's loss and metrics after every epoch
        /// (JSON, for `ebmc plot training --history`); measuring the test set costs time.
        #[arg(long)]
        history: Option<PathBuf>,
        /// An input's value, in the data's units: `x=1.5`, `x=[0.1, 0.2]`. Repeatable; give
        /// every input. Inference runs once at them (after training, for a model with data,
        /// instead of measuring the test set) and reports the answer and its energy; --out and
        /// --metrics then hold that answer.
        #[arg(long, value_name = "NAME=VALUE")]
        at: Vec<String>,
    },
    /// Draw samples from P(y|x) (or P(y) for a model without inputs) with the model's sampler.
    Sample {
        file: PathBuf,
        /// The model to sample when the file holds several.
        #[arg(long)]
        model: Option<String>,
        /// Weights from `ebmc run --save`; else the model is trained (with `train` and
        /// `data`) or sampled at its declared init.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Chains at the --at inputs (or of a model without inputs); default 1000. Without
        /// --at, a model with inputs runs one chain per test row.
        #[arg(long)]
        n: Option<usize>,
        /// An input's value, in the data's units: `x=1.5`, `x=[0.1, 0.2]`. Repeatable; give
        /// every input.
        #[arg(long, value_name = "NAME=VALUE")]
        at: Vec<String>,
        /// Seed of the chains (and of training, the split and the init; overrides the
        /// model's).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the samples here: CSV, one row per chain, one column per coordinate (`-`:
        /// standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run on the reference interpreter instead of native code.
        #[arg(long)]
        interp: bool,
    },
    /// Draw a model's energy (landscape, surface) or its training as SVG.
    Plot {
        #[arg(value_enum)]
        kind: PlotKind,
        file: PathBuf,
        /// The model to plot when the file holds several.
        #[arg(long)]
        model: Option<String>,
        /// Weights from `ebmc run --save`; else the model is trained (with `train` and
        /// `data`) or drawn at its declared init.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// A value for a landscape, in the data's units: `x=1.5`, `x=[0.1, 0.2]`; an output
        /// given this way is marked as the correct answer. Repeatable. Default: the first
        /// test example of the model's data.
        #[arg(long, value_name = "NAME=VALUE")]
        at: Vec<String>,
        /// The one or two coordinates of a landscape: `y`, `y[0],y[1]`, `y,z[1]`.
        #[arg(long)]
        axes: Option<String>,
        /// The span of an axis, in the data's units: `y=-3:3`. Repeatable.
        #[arg(long, value_name = "NAME=LO:HI")]
        range: Vec<String>,
        /// Samples per axis (default 400 for a line, 200 for a heat map).
        #[arg(long)]
        grid: Option<usize>,
        /// The energies the colour scale spans, `LO:HI` (to compare figures).
        #[arg(long, value_name = "LO:HI")]
        scale: Option<String>,
        /// A history file from `ebmc run --history` (training plots; else the model is trained).
        #[arg(long)]
        history: Option<PathBuf>,
        /// Overrides the model's seed (init, data split, training, inference).
        #[arg(long)]
        seed: Option<u64>,
        /// Samples to draw on a density (a CSV file as `ebmc sample --out` writes it).
        #[arg(long, value_name = "S.csv")]
        samples: Option<PathBuf>,
        /// The SVG file to write (default: MODEL-KIND.svg).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print one stage of compilation.
    Emit {
        #[arg(value_enum)]
        stage: Stage,
        file: PathBuf,
        /// The model to print when the file holds several.
        #[arg(long)]
        model: Option<String>,
        /// `grad`: differentiate with respect to these variables only (comma-separated).
        #[arg(long, value_delimiter = ',')]
        wrt: Option<Vec<String>>,
        /// `grad`: show the training loss and its parameter gradient instead.
        #[arg(long)]
        loss: bool,
    },
    /// Compile every native entry point and time each one; JSON (spec section 12).
    Bench {
        file: PathBuf,
        #[arg(long)]
        model: Option<String>,
    },
    /// Compile one model ahead of time: with --lib, a C shared library, its header and an
    /// example program in the output directory.
    Build {
        file: PathBuf,
        /// Build the C library (lib<model>.so, <model>.h, example.c); the only kind so far.
        #[arg(long, required = true)]
        lib: bool,
        /// The model to build when the file holds several.
        #[arg(long)]
        model: Option<String>,
        /// The directory to write into (created if missing).
        #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
        out_dir: PathBuf,
        /// Hold these params (`ebmc run --save`) in the library as `<model>_default_<param>`.
        #[arg(long)]
        weights: Option<PathBuf>,
    },
    /// Energy, named terms and gradients at one point, as JSON.
    Eval {
        file: PathBuf,
        #[arg(long)]
        model: Option<String>,
        /// A JSON file naming every variable.
        #[arg(long, conflicts_with = "random", required_unless_present = "random")]
        point: Option<PathBuf>,
        /// A random point: params from their init, reals standard normal.
        #[arg(long)]
        random: bool,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Use the reference interpreter instead of native code.
        #[arg(long)]
        interp: bool,
        /// A variable's value in place of the point's: `x=1.5`, `y=[0.1, 0.2]`. Repeatable; any
        /// variable (a --point file still names every one).
        #[arg(long, value_name = "NAME=VALUE")]
        at: Vec<String>,
    },
    /// A language server over stdio, for editors (diagnostics, hover, definition, …).
    Lsp,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlotKind {
    /// E over one or two output coordinates at one input (bars for discrete outputs).
    Landscape,
    /// E over the (x, y) plane of one real input and one real output, with the data.
    Surface,
    /// Training and test loss, and accuracy or R², per epoch.
    Training,
    /// E over two output coordinates (P(y) ∝ exp(−E)), with the data and --samples on it.
    Density,
}

#[derive(Clone, Copy, ValueEnum)]
enum Stage {
    Ast,
    Ir,
    Grad,
    /// The Cranelift IR of every native entry point.
    Clif,
}

/// Exit codes: 0 success, 1 user error (source, data, numeric failure), 2 usage or I/O.
const EXIT_USER: u8 = 1;
const EXIT_IO: u8 = 2;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        say!("error: ebmc crashed — this is a bug in ebmc, not in your model.");
        say!("{info}");
        say!("Please report it with the input that caused it.");
    }));
    let cli = Cli::parse();
    let color = match cli.color {
        ColorChoice::Always => Color::Always,
        ColorChoice::Never => Color::Never,
        ColorChoice::Auto if std::io::stderr().is_terminal() => Color::Always,
        ColorChoice::Auto => Color::Never,
    };
    match cli.command {
        Command::Lsp => ExitCode::from(ebmc::lsp::run()),
        Command::Check { files } => check(&files, color),
        Command::Fmt { files, check } => fmt(&files, check, color),
        Command::Run {
            file,
            model,
            seed,
            save,
            weights,
            out,
            metrics,
            quiet,
            interp,
            threads,
            memory,
            history,
            at,
        } => {
            let opts = RunOptions {
                threads,
                memory,
                seed,
                weights,
                save,
                out,
                metrics,
                interp,
                history,
                track_test: false,
                unstaged: false,
                at: Vec::new(),
            };
            run(&file, model.as_deref(), &opts, &at, quiet, color)
        }
        Command::Sample {
            file,
            model,
            weights,
            n,
            at,
            seed,
            out,
            interp,
        } => {
            let opts = driver::SampleOptions {
                weights,
                n,
                at: Vec::new(),
                seed,
                out,
                interp,
            };
            sample(&file, model.as_deref(), &opts, &at, color)
        }
        Command::Plot {
            kind,
            file,
            model,
            weights,
            at,
            axes,
            range,
            grid,
            scale,
            history,
            seed,
            samples,
            out,
        } => {
            let kind = match kind {
                PlotKind::Landscape => Kind::Landscape,
                PlotKind::Surface => Kind::Surface,
                PlotKind::Training => Kind::Training,
                PlotKind::Density => Kind::Density,
            };
            let opts = PlotOptions {
                weights,
                at,
                axes,
                ranges: range,
                grid,
                scale,
                history,
                seed,
                samples,
            };
            plot(kind, &file, model.as_deref(), &opts, out, color)
        }
        Command::Emit {
            stage: stage @ (Stage::Ir | Stage::Grad | Stage::Clif),
            file,
            model,
            wrt,
            loss,
        } => {
            let model = match load_model(&file, model.as_deref(), color) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let text = match stage {
                Stage::Ir => driver::emit_ir(&model),
                Stage::Clif => driver::emit_clif(&model),
                _ => driver::emit_grad(&model, wrt.as_deref(), loss),
            };
            match text {
                Ok(t) => write_stdout(&t),
                Err(e) => {
                    say!("error: {e}");
                    ExitCode::from(EXIT_USER)
                }
            }
        }
        Command::Eval {
            file,
            model,
            point,
            random: _,
            seed,
            interp,
            at,
        } => {
            let model = match load_model(&file, model.as_deref(), color) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let at = match driver::eval_values_at(&model, &at) {
                Ok(values) => values,
                Err(e) => {
                    say!("error: {e}");
                    return ExitCode::from(EXIT_IO);
                }
            };
            let source = match &point {
                Some(p) => PointSource::File(p),
                None => PointSource::Random(seed),
            };
            match driver::eval(&model, &source, &at, interp) {
                Ok(e) => {
                    let written = write_stdout(&json_text(&e.json));
                    if e.non_finite.is_empty() {
                        return written;
                    }
                    // The JSON is printed all the same (with "nan", "inf", "-inf" in place),
                    // so the finite part can be read; the command fails.
                    const SHOWN: usize = 10;
                    let mut list = e.non_finite[..e.non_finite.len().min(SHOWN)].join(", ");
                    if e.non_finite.len() > SHOWN {
                        list += &format!(" and {} more", e.non_finite.len() - SHOWN);
                    }
                    say!("error: not finite at this point: {list}");
                    ExitCode::from(EXIT_USER)
                }
                Err(e) => {
                    say!("error: {e}");
                    ExitCode::from(EXIT_USER)
                }
            }
        }
        Command::Build {
            file,
            lib: _,
            model,
            out_dir,
            weights,
        } => build_lib(&file, model.as_deref(), &out_dir, weights.as_deref(), color),
        Command::Bench { file, model } => {
            let Some(bytes) = read(&file) else {
                return ExitCode::from(EXIT_IO);
            };
            if load_model(&file, model.as_deref(), color).is_err() {
                return ExitCode::from(EXIT_USER);
            }
            match driver::bench(&bytes, model.as_deref()) {
                Ok(v) => write_stdout(&json_text(&v)),
                Err(e) => {
                    say!("error: {e}");
                    ExitCode::from(EXIT_USER)
                }
            }
        }
        Command::Emit {
            stage: Stage::Ast,
            file,
            ..
        } => {
            let Some(bytes) = read(&file) else {
                return ExitCode::from(EXIT_IO);
            };
            match driver::emit_ast(&bytes) {
                Ok(text) => write_stdout(&text),
                Err(diags) => {
                    report(&file, &bytes, &diags, color);
                    ExitCode::from(EXIT_USER)
                }
            }
        }
    }
}

/// Writes the whole of a command's output to standard output. A reader that stops early
/// (`| head -1`) closes the pipe: that ends the output quietly with success, as other command
/// line tools do on `EPIPE` (Rust ignores `SIGPIPE`, so the write reports it). Any other
/// failure, such as a full disk, is an I/O error with a message.
fn write_stdout(text: &str) -> ExitCode {
    use std::io::{ErrorKind, Write};
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: cannot write to standard output: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}

/// A JSON value as `eval` and `bench` print it: pretty, with a final newline.
fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON values serialize") + "\n"
}

/// Reads a source file: at most one byte past [`ebmc::syntax::MAX_SOURCE_BYTES`], so that
/// a huge file (or `/dev/zero`) is refused by the parser's size check without being read to
/// its end; and without a leading byte-order mark, which editors do not show, so that the
/// columns of diagnostics count as the user sees them.
fn read(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let limit = ebmc::syntax::MAX_SOURCE_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    let result = std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes));
    match result {
        Ok(_) => {
            let bom = bytes.len() - ebmc::syntax::without_bom(&bytes).len();
            bytes.drain(..bom);
            Some(bytes)
        }
        Err(e) => {
            say!("error: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn report(path: &Path, bytes: &[u8], diags: &[Diagnostic], color: Color) {
    let name = path.display().to_string();
    let text = match std::str::from_utf8(bytes) {
        Ok(source) => Some(source),
        // A character cut in two at the end, by the read limit ([`read`]): the text before it.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(source) => say_raw!("{}", diag::render(diags, &name, source, color)),
        None => diags
            .iter()
            .for_each(|d| say_raw!("{}", diag::render_plain(d, &name))),
    }
}

/// Where a source's relative paths (its `data` file) start: its own directory.
/// (The empty path for a bare file name, so that messages show `data/d.csv`, not `./data/d.csv`.)
fn base_dir(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new("."))
}

fn check(files: &[PathBuf], color: Color) -> ExitCode {
    let mut errors = false;
    for file in files {
        let Some(bytes) = read(file) else {
            return ExitCode::from(EXIT_IO);
        };
        let checked = driver::check_at(&bytes, base_dir(file));
        report(file, &bytes, &checked.diagnostics, color);
        errors |= checked.has_errors();
    }
    if errors {
        ExitCode::from(EXIT_USER)
    } else {
        ExitCode::SUCCESS
    }
}

/// `ebmc fmt`: each file that is not formatted is rewritten (atomically), or with `check`
/// listed on standard output; `-` is standard input, formatted to standard output. A file
/// that does not parse is reported and left alone. Exit 1 for such a file or, with `check`,
/// for an unformatted one; 2 on an I/O error.
fn fmt(files: &[PathBuf], check: bool, color: Color) -> ExitCode {
    use std::io::{Read, Write};
    let limit = ebmc::syntax::MAX_SOURCE_BYTES as u64 + 1;
    let mut failed = false;
    for file in files {
        let stdin = file.as_os_str() == "-";
        // Read as is (no byte-order mark dropped): a mark makes a file unformatted.
        let mut bytes = Vec::new();
        let read = if stdin {
            std::io::stdin().take(limit).read_to_end(&mut bytes)
        } else {
            std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
        };
        if let Err(e) = read {
            say!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(EXIT_IO);
        }
        let text = match driver::fmt(&bytes) {
            Ok(text) => text,
            Err(diags) => {
                report(file, ebmc::syntax::without_bom(&bytes), &diags, color);
                failed = true;
                continue;
            }
        };
        if check {
            if text.as_bytes() != bytes {
                let _ = writeln!(std::io::stdout(), "{}", file.display());
                failed = true;
            }
        } else if stdin {
            let code = write_stdout(&text);
            if code != ExitCode::SUCCESS {
                return code;
            }
        } else if text.as_bytes() != bytes {
            if let Err(e) = ebmc::atomic::write(file, text.as_bytes()) {
                say!("error: cannot write {}: {e}", file.display());
                return ExitCode::from(EXIT_IO);
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_USER)
    } else {
        ExitCode::SUCCESS
    }
}

/// Loads and checks one model of a file. Errors anywhere in the file are reported (the file
/// does not check), but warnings only for the model chosen: the others are not being run.
/// `Err` carries the exit code.
fn load_model(
    file: &Path,
    name: Option<&str>,
    color: Color,
) -> Result<ebmc::check::Model, ExitCode> {
    let bytes = read(file).ok_or(ExitCode::from(EXIT_IO))?;
    let checked = driver::check_at(&bytes, base_dir(file));
    if checked.has_errors() {
        report(file, &bytes, &checked.diagnostics, color);
        return Err(ExitCode::from(EXIT_USER));
    }
    let names: Vec<&str> = checked.models.iter().map(|m| m.name.as_str()).collect();
    let found = match name {
        Some(n) => checked.models.iter().position(|m| m.name == n),
        None if checked.models.len() == 1 => Some(0),
        None => {
            say!(
                "error: {} holds several models ({}); choose one with --model NAME",
                file.display(),
                names.join(", ")
            );
            return Err(ExitCode::from(EXIT_IO));
        }
    };
    match found {
        Some(i) => {
            let model = checked
                .models
                .into_iter()
                .nth(i)
                .expect("index found above");
            let inside = |d: &&Diagnostic| {
                d.primary.span.start >= model.span.start && d.primary.span.end <= model.span.end
            };
            let own: Vec<Diagnostic> = checked.diagnostics.iter().filter(inside).cloned().collect();
            report(file, &bytes, &own, color);
            Ok(model)
        }
        None => {
            say!(
                "error: {} has no model `{}`; it has {}",
                file.display(),
                name.unwrap_or(""),
                names.join(", ")
            );
            Err(ExitCode::from(EXIT_IO))
        }
    }
}

fn run(
    file: &Path,
    name: Option<&str>,
    opts: &RunOptions,
    at: &[String],
    quiet: bool,
    color: Color,
) -> ExitCode {
    let model = match load_model(file, name, color) {
        Ok(m) => m,
        Err(code) => return code,
    };
    // A mistake in `--at` is one on the command line, found before any training.
    let opts = &match driver::run_inputs_at(&model, at) {
        Ok(at) => RunOptions { at, ..opts.clone() },
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(EXIT_IO);
        }
    };
    let base = base_dir(file);
    let bar = (!quiet
        && std::io::stderr().is_terminal()
        && model.train.is_some()
        && opts.weights.is_none())
    .then(|| {
        let epochs = model.train.as_ref().map(|t| t.epochs).unwrap_or(0) as u64;
        let bar = indicatif::ProgressBar::new(epochs);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] epoch {pos}/{len}  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("training {}", model.name));
        bar
    });
    let result = driver::run(&model, base, opts, &mut |e| {
        if let Some(bar) = &bar {
            bar.set_position(e.epoch as u64);
            bar.set_message(format!(
                "loss {:.4}  {:.0} examples/s",
                e.loss, e.examples_per_sec
            ));
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(outcome) => {
            if opts.history.is_some() && !outcome.trained {
                say!("note: nothing was trained, so no history was written");
            }
            if quiet {
                return ExitCode::SUCCESS;
            }
            let mut table = outcome.report.table();
            if let Some(a) = outcome.acceptance {
                table += &format!("hmc acceptance {a:.4}\n");
            }
            write_stdout(&table)
        }
        Err(e) => {
            say!("error: {e}");
            ExitCode::from(EXIT_USER)
        }
    }
}

/// `ebmc sample`: the samples to `--out`; a summary (per coordinate: mean and standard
/// deviation over the chains; the acceptance rate of `hmc`) on standard output, or on
/// standard error when the samples go there.
fn sample(
    file: &Path,
    name: Option<&str>,
    opts: &driver::SampleOptions,
    at: &[String],
    color: Color,
) -> ExitCode {
    let model = match load_model(file, name, color) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let opts = &match driver::run_inputs_at(&model, at) {
        Ok(at) => driver::SampleOptions { at, ..opts.clone() },
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(EXIT_IO);
        }
    };
    if opts.n == Some(0) {
        say!("error: --n 0: give at least one chain");
        return ExitCode::from(EXIT_IO);
    }
    if opts.n.is_some()
        && opts.at.is_empty()
        && model.vars_of(ebmc::check::Role::Input).next().is_some()
    {
        say!("error: --n needs --at for a model with inputs: without --at there is one chain per test row");
        return ExitCode::from(EXIT_IO);
    }
    let base = file.parent().unwrap_or(Path::new("."));
    match driver::sample(&model, base, opts) {
        Ok(outcome) => {
            let mut text = format!(
                "{} samples of `{}` by {}\n",
                outcome.rows.len(),
                model.name,
                outcome.method
            );
            if let Some(a) = outcome.stats.acceptance() {
                text += &format!(
                    "acceptance {a:.4} ({} of {} proposals)\n",
                    outcome.stats.accepted, outcome.stats.proposals
                );
            }
            text += &format!("{:<12} {:>12} {:>12}\n", "", "mean", "std");
            for (c, m, s) in outcome.summary() {
                text += &format!("{c:<12} {m:>12.4} {s:>12.4}\n");
            }
            if opts.out.as_deref() == Some(Path::new("-")) {
                eprint!("{text}");
                ExitCode::SUCCESS
            } else {
                write_stdout(&text)
            }
        }
        Err(e) => {
            say!("error: {e}");
            ExitCode::from(EXIT_USER)
        }
    }
}

/// `ebmc build --lib`: says what it wrote (and what it left out) on standard error.
fn build_lib(
    file: &Path,
    name: Option<&str>,
    dir: &Path,
    weights: Option<&Path>,
    color: Color,
) -> ExitCode {
    let model = match load_model(file, name, color) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match driver::build_lib(&model, dir, weights) {
        Ok(built) => {
            for note in &built.notes {
                say!("note: {note}");
            }
            for p in [&built.library, &built.header, &built.example] {
                say!("wrote {}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(ebmc::clib::BuildError::User(e)) => {
            say!("error: {e}");
            ExitCode::from(EXIT_USER)
        }
        Err(ebmc::clib::BuildError::Io(e)) => {
            say!("error: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}

fn plot(
    kind: Kind,
    file: &Path,
    name: Option<&str>,
    opts: &PlotOptions,
    out: Option<PathBuf>,
    color: Color,
) -> ExitCode {
    let model = match load_model(file, name, color) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let base = base_dir(file);
    match driver::plot(kind, &model, base, opts, out, &mut |note| say!("{note}")) {
        Ok(out) => {
            say!("wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(PlotFailure::Plot(e)) => {
            say!("error: {e}");
            ExitCode::from(EXIT_USER)
        }
        Err(PlotFailure::Write(e)) => {
            say!("error: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}
