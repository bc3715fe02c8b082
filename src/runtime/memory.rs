//! What a run will allocate, estimated before it allocates, against what it may allocate.
//!
//! A model inside the element limits can still need more memory than the machine (or its
//! `ulimit -v`, or its container) grants, and Rust answers a failed allocation by aborting the
//! process. So `run` adds up its large buffers first ([`estimate`]) and refuses with the
//! figures when they exceed the [`Budget`]. It counts the run at its peak, training or
//! inference (the training threads and the optimizer are gone by the time it measures):
//! * training: the params, each training thread's copy of them and of the kernels a step
//!   calls (a kernel holds a copy of the params it reads, and the gradient it writes), the
//!   step's gradient and, with several threads, one per chunk, the optimizer's state, and the
//!   copy kept for `--save`;
//! * inference: the params, every kernel of the session, and the copy kept for `--save`.
//!   Inference over a data set on several threads ([`super::infer::infer_all_rows`]) copies
//!   the params and the batched inference kernels per extra thread; those copies are not
//!   counted but allocated fallibly, and a thread whose copy does not fit is not started.
//!
//! The code, the data set and small bookkeeping are not counted: they do not grow with the
//! params. Kernel buffers are allocated when first used and may stay partly untouched, so the
//! resident size is often lower than the estimate; the address space (what `ulimit -v`
//! limits) is not. The large buffers are allocated fallibly ([`zeros`],
//! [`crate::compile::Kernel::ready`]), so a budget set too high still ends in an error.
//!
//! The default budget is the smallest of: the machine's memory (`MemTotal`), what is left of
//! the address-space limit (`ulimit -v`, `prlimit --as`) beyond what the process already
//! maps, and what is left of a cgroup v2 `memory.max`. `--memory SIZE` replaces it.

use super::session::{RunError, Session};
use crate::check::{Model, Role, Train};
use crate::compile::Compiled;

/// One part of an estimate: what it is and its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub what: String,
    pub bytes: u64,
}

/// The large buffers of a run at its peak: while training, or afterwards, while inferring
/// and measuring (the training threads and the optimizer are gone by then).
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// `training` or `inference`.
    pub phase: &'static str,
    pub parts: Vec<Part>,
}

impl Estimate {
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }
}

/// What a run may allocate, and where that limit comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub bytes: u64,
    pub source: String,
}

const F64: u64 = std::mem::size_of::<f64>() as u64;

/// The large buffers of a run of `code` training with `train` on `threads` threads (the
/// threads training really starts, see [`super::train::threads_for`]); `keep_copy` when
/// `--save` keeps the weights of the last whole epoch.
pub fn estimate(
    code: &Compiled,
    train: Option<&Train>,
    threads: usize,
    keep_copy: bool,
) -> Estimate {
    let model: &Model = &code.model;
    let params: u64 = model
        .vars_of(Role::Param)
        .map(|(_, v)| v.ty.elements() as u64)
        .sum::<u64>()
        * F64;
    let part = |what: &str, bytes: u64| Part {
        what: what.into(),
        bytes,
    };
    let mut common = vec![part("params", params)];
    if keep_copy {
        common.push(part("the weights kept for --save", params));
    }
    let mut inference = common.clone();
    inference.push(part(
        "kernel buffers",
        Session::buffer_elements(code, false) as u64 * F64,
    ));
    let inference = Estimate {
        phase: "inference",
        parts: inference,
    };
    let Some(t) = train else {
        return inference;
    };
    let batched = code.entry(crate::compile::Entry::LossGradBatch).is_some();
    let training_kernels = Session::buffer_elements(code, true) as u64 * F64;
    let mut training = common;
    let whose = if threads == 1 { "thread" } else { "threads" };
    training.push(Part {
        what: format!("the params and kernel buffers of {threads} training {whose}"),
        // A thread copies the params when it first computes a chunk example by example: a
        // loss that does not batch, or the last rows of an epoch.
        bytes: threads as u64 * (params + training_kernels),
    });
    // One thread adds each chunk's gradient as it goes (the batched kernel straight into the
    // step's, a per-example chunk through one buffer); several keep one per chunk.
    let chunks = match threads {
        1 if batched => 0,
        1 => 1,
        _ => t.batch.div_ceil(super::train::CHUNK) as u64,
    };
    training.push(Part {
        what: match chunks {
            0 => "the gradient of a step".into(),
            1 => "the gradient of a step and of a chunk".into(),
            _ => format!("the gradient of a step and of its {chunks} chunks"),
        },
        bytes: (1 + chunks) * params,
    });
    let state = super::optim::Optim::state_vectors(t.optimizer) as u64;
    if state > 0 {
        training.push(part("the optimizer's state", state * params));
    }
    let training = Estimate {
        phase: "training",
        parts: training,
    };
    if training.total() >= inference.total() {
        training
    } else {
        inference
    }
}

/// `n` zeros, or an error naming `what` when the memory is not there (where `vec!` would
/// abort the process).
pub fn zeros(n: usize, what: &str) -> Result<Vec<f64>, RunError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        RunError::User(format!(
            "cannot allocate the {} of {what}: out of memory",
            human(n as u64 * F64)
        ))
    })?;
    v.resize(n, 0.0);
    Ok(v)
}

/// The machine's budget: the smallest of its memory, the address-space limit and the cgroup
/// limit, less what the process already uses of the last two. `None` when nothing is known
/// (not Linux).
pub fn machine_budget() -> Option<Budget> {
    let mut best: Option<Budget> = None;
    let mut consider = |bytes: u64, source: String| {
        if best.as_ref().is_none_or(|b| bytes < b.bytes) {
            best = Some(Budget { bytes, source });
        }
    };
    if let Some(total) = proc_field("/proc/meminfo", "MemTotal:") {
        consider(total, "the machine's memory".into());
    }
    if let Some(limit) = address_space_limit() {
        let mapped = proc_field("/proc/self/status", "VmSize:").unwrap_or(0);
        consider(
            limit.saturating_sub(mapped),
            format!(
                "what is left of the address-space limit of {} (ulimit -v)",
                human(limit)
            ),
        );
    }
    if let Some((max, current)) = cgroup_limit() {
        consider(
            max.saturating_sub(current),
            format!(
                "what is left of the container's memory limit of {}",
                human(max)
            ),
        );
    }
    best
}

/// Checks `need` against `budget`: an error saying what the run needs, part by part, and
/// what would fit.
pub fn check(need: &Estimate, budget: &Budget) -> Result<(), String> {
    let total = need.total();
    if total <= budget.bytes {
        return Ok(());
    }
    let parts: Vec<String> = need
        .parts
        .iter()
        .map(|p| format!("{} {}", human(p.bytes), p.what))
        .collect();
    Err(format!(
        "this run needs about {} while {} ({}) but may use {}, {}; use fewer threads (`--threads 1`), smaller tensors, or another budget with `--memory SIZE`",
        human(total),
        need.phase,
        parts.join(", "),
        human(budget.bytes),
        budget.source
    ))
}

/// Parses a `--memory` size: bytes, or a number with `K`, `M`, `G` or `T` (powers of 1024,
/// optionally followed by `B` or `iB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => {
            return Err(format!(
                "expected a size such as 512M or 4G, found `{text}`"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a size such as 512M or 4G, found `{text}`"))?;
    let bytes = value * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!(
            "expected a size of at least one byte, found `{text}`"
        ));
    }
    Ok(bytes as u64)
}

/// Bytes as a person reads them: `271 MB`, `4.5 GB` (powers of 1024, as `--memory` reads).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

/// A `Key:   123 kB` field of a /proc file, in bytes.
fn proc_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    Some(match words.next() {
        Some("kB") => n.checked_mul(1024)?,
        _ => n,
    })
}

/// The soft address-space limit, from /proc/self/limits (`Max address space`).
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A cgroup v2 memory limit and the current use, when the process runs under one.
fn cgroup_limit() -> Option<(u64, u64)> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?;
    let current: u64 = read("memory.current")?.trim().parse().unwrap_or(0);
    Some((max, current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("-1G").is_err());
    }

    #[test]
    fn bytes_read_as_a_person_reads_them() {
        assert_eq!(human(1000), "1000 bytes");
        assert_eq!(human(271 << 20), "271 MB");
        assert_eq!(human((45 << 30) / 10), "4.5 GB");
    }
}
