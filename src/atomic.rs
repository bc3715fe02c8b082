//! Files written atomically: every file ebmc writes (weights, metrics, history, `--out`
//! answers, plots) goes through [`write`], so that a crash or a full disk leaves the old file
//! or the whole new one, never a torn one.
//!
//! What [`write`] does depends on what the path names:
//!
//! * `-`: standard output, written as is;
//! * a regular file, or nothing yet: a temporary file beside it is written, flushed to disk
//!   and renamed over it, then the directory is flushed. An existing file keeps its
//!   permission bits (a `600` weights file stays `600`);
//! * a symbolic link: followed (through chains of links) to the file it finally names, which
//!   is then replaced as above; the link stays a link;
//! * anything else that exists (a character device such as `/dev/null`, a FIFO): opened and
//!   written in place. A rename would replace the device by a regular file, and the
//!   temporary file could not be created in `/dev` by a user anyway.
//!
//! Temporary names are `.NAME.PID.N.tmp`. When that would pass the 255-byte limit of a file
//! name, NAME is cut and a hash of the whole name keeps it unique: `.PREFIX~HASH.PID.N.tmp`.
//! A process killed mid-write leaves its temporary file behind; the next write of the same
//! target removes the temporaries of that target whose process no longer runs (on Linux,
//! where `/proc` tells; elsewhere they are left). On Unix, SIGINT and SIGTERM during a write
//! remove its temporary file before ebmc dies of the signal as it would have.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;
/// The longest `.PID.N.tmp` suffix: two 64-bit numbers and the dots.
const SUFFIX_MAX: usize = 1 + 20 + 1 + 20 + 4;

/// The temporary files being written now, for [`clean_up_on_signals`] to remove. A write
/// holds the lock while it renames, so that a signal removes a temporary file either before
/// its rename (and the process dies before the rename) or not at all.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_flight() -> MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `bytes` to `path` as the module documentation describes: atomically for a file,
/// in place for a device or FIFO, to standard output for `-`. On failure the temporary file
/// is removed.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if path == Path::new("-") {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        return out.flush();
    }
    let target = resolve(path)?;
    match fs::metadata(&target) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            let mut f = OpenOptions::new().write(true).open(&target)?;
            f.write_all(bytes)?;
            f.flush()
        }
        Ok(m) => replace(&target, bytes, Some(m.permissions())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => replace(&target, bytes, None),
        Err(e) => Err(e),
    }
}

/// Checks, without writing anything there, that [`write`] can later write `path`: `-`, an
/// existing device or FIFO, or a file (existing or not) in an existing directory where a
/// file can be created (tried with a temporary file, removed at once).
pub fn check(path: &Path) -> io::Result<()> {
    if path == Path::new("-") {
        return Ok(());
    }
    let target = resolve(path)?;
    match fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a directory",
            ))
        }
        Ok(m) if !m.is_file() => return Ok(()),
        _ => {}
    }
    let (dir, stem) = parts(&target)?;
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the directory {} does not exist", dir.display()),
            ))
        }
        Err(e) => return Err(e),
    }
    let (tmp, _) = create_temporary(dir, &stem).map_err(|e| {
        let why = e.to_string();
        let why = why
            .split(" (os error")
            .next()
            .unwrap_or_default()
            .to_lowercase();
        io::Error::new(
            e.kind(),
            format!("cannot create a file in {}: {why}", dir.display()),
        )
    })?;
    fs::remove_file(tmp)
}

/// The file `path` finally names: `path` itself unless it is a symbolic link, else what the
/// chain of links ends at (which need not exist). Relative links are relative to the
/// directory of the link.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    // Linux's limit on the links followed in one lookup.
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(d) => d.join(link),
                    None => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// The directory of `target` and the stem of its temporary names (`.NAME`, or
/// `.PREFIX~HASH` for a name too long to carry a suffix).
fn parts(target: &Path) -> io::Result<(&Path, String)> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?
        .to_string_lossy();
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if 1 + name.len() + SUFFIX_MAX <= NAME_MAX {
        return Ok((dir, format!(".{name}")));
    }
    let hash = fnv1a(name.as_bytes());
    let mut cut = NAME_MAX - SUFFIX_MAX - 1 - 1 - 16;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    Ok((dir, format!(".{}~{hash:016x}", &name[..cut])))
}

/// FNV-1a: a hash that is the same in every build, so that a later run recognises the
/// temporaries an earlier one left.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A new, empty temporary file `STEM.PID.N.tmp` in `dir`.
fn create_temporary(dir: &Path, stem: &str) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{stem}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Replaces the regular file (or nothing) at `target`: a temporary file in the same directory
/// (a rename is only atomic within one file system) is written, given `permissions`, flushed
/// to disk and renamed over `target`; then the directory is flushed so that the rename itself
/// survives a power cut.
fn replace(target: &Path, bytes: &[u8], permissions: Option<fs::Permissions>) -> io::Result<()> {
    let (dir, stem) = parts(target)?;
    remove_stale(dir, &stem);
    clean_up_on_signals();
    let (tmp, mut f) = create_temporary(dir, &stem)?;
    in_flight().push(tmp.clone());
    let (first, second) = bytes.split_at(bytes.len() / 2);
    let result = permissions
        .map_or(Ok(()), |p| f.set_permissions(p))
        .and_then(|()| f.write_all(first))
        .and_then(|()| {
            if let Some(pause) = test_pause() {
                std::thread::sleep(pause);
            }
            f.write_all(second)
        })
        .and_then(|()| f.sync_all())
        .and_then(|()| {
            drop(f);
            let mut in_flight = in_flight();
            in_flight.retain(|t| *t != tmp);
            fs::rename(&tmp, target)
        });
    if let Err(e) = result {
        let mut in_flight = in_flight();
        in_flight.retain(|t| *t != tmp);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Removes the temporaries `STEM.PID.N.tmp` in `dir` that a process which no longer runs
/// left (it was killed mid-write). Best effort: a temporary that cannot be removed stays.
fn remove_stale(dir: &Path, stem: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(stem))
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('.') else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
            continue;
        };
        if pid != std::process::id() && process_is_gone(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether no process `pid` runs, as far as can be told: on Linux from `/proc`; elsewhere
/// (and without `/proc`) a process is assumed to run.
fn process_is_gone(pid: u32) -> bool {
    let proc = Path::new("/proc");
    cfg!(target_os = "linux") && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// A test hook: with `EBMC_TEST_WRITE_PAUSE_MS=N` in the environment (read once), a write
/// sleeps N ms halfway through its temporary file, so that `tests/cli.rs` can kill ebmc
/// inside a write rather than hope to.
fn test_pause() -> Option<std::time::Duration> {
    static PAUSE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *PAUSE.get_or_init(|| {
        std::env::var("EBMC_TEST_WRITE_PAUSE_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(std::time::Duration::from_millis)
    })
}

/// On SIGINT or SIGTERM (Ctrl-C, `kill`), removes the temporary files being written, then
/// dies of the signal as it would have without this. Installed by the first write, as a
/// thread that waits for the signals (signal-hook), so that no code of ours runs inside a
/// signal handler; a signal before that has its default effect, with nothing to clean up.
#[cfg(unix)]
fn clean_up_on_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Held until the process dies: no write renames after this.
                let in_flight = in_flight();
                for tmp in in_flight.iter() {
                    let _ = fs::remove_file(tmp);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
            }
        });
    });
}

#[cfg(not(unix))]
fn clean_up_on_signals() {}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows offers no handle on a directory to flush; its rename is durable on its own.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write(&path, b"old").unwrap();
        write(&path, b"new contents").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new contents");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn write_atomic_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.json");
        let e = write(&path, b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn write_atomic_over_a_directory_fails_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        assert!(write(&path, b"x").is_err());
        assert_eq!(
            names(dir.path()),
            ["taken"],
            "the temporary file was left behind"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        // A null device of its own (`mknod`, as root), so that a regression replaces that one
        // rather than the system's `/dev/null`; a user cannot replace `/dev/null` anyway.
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("null");
        let made = std::process::Command::new("mknod")
            .arg(&own)
            .args(["c", "1", "3"])
            .stderr(std::process::Stdio::null())
            .status();
        let device = if made.is_ok_and(|s| s.success()) {
            own
        } else {
            PathBuf::from("/dev/null")
        };
        write(&device, b"discarded").unwrap();
        assert!(fs::metadata(&device).unwrap().file_type().is_char_device());
        assert_eq!(fs::read(&device).unwrap(), b"");
        assert!(names(dir.path()).len() <= 1, "{:?}", names(dir.path()));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo on this system
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write(&fifo, b"through the pipe").unwrap();
        // Before joining: had the FIFO been replaced, the reader would wait for ever.
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert_eq!(names(dir.path()), ["pipe"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/w.json");
        fs::write(&target, b"old").unwrap();
        // A relative link to a relative link: both are resolved from their own directory.
        std::os::unix::fs::symlink("real/w.json", dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        write(&dir.path().join("b"), b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        for link in ["a", "b"] {
            let m = fs::symlink_metadata(dir.path().join(link)).unwrap();
            assert!(m.file_type().is_symlink(), "{link} is no longer a link");
        }
        assert_eq!(names(&dir.path().join("real")), ["w.json"]);
        // A dangling link: the file it names is created.
        std::os::unix::fs::symlink("real/new.json", dir.path().join("c")).unwrap();
        write(&dir.path().join("c"), b"made").unwrap();
        assert_eq!(fs::read(dir.path().join("real/new.json")).unwrap(), b"made");
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write(&path, b"new").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_250_byte_name_gets_a_short_unique_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ("a".repeat(249) + "1", "a".repeat(249) + "2");
        for name in [&a, &b] {
            let path = dir.path().join(name);
            write(&path, name.as_bytes()).unwrap();
            assert_eq!(fs::read(&path).unwrap(), name.as_bytes());
            let (_, stem) = parts(&path).unwrap();
            assert!(stem.len() + SUFFIX_MAX <= NAME_MAX, "{}", stem.len());
        }
        let (_, sa) = parts(&dir.path().join(&a)).unwrap();
        let (_, sb) = parts(&dir.path().join(&b)).unwrap();
        assert_ne!(sa, sb, "two long names share their temporaries");
        assert_eq!(names(dir.path()), [a, b]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn stale_temporaries_of_the_target_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A process id above the kernel's limit (2^22) never runs.
        let gone = 4_194_304 + 17;
        let stale = format!(".w.json.{gone}.0.tmp");
        let running = format!(".w.json.{}.0.tmp", std::process::id());
        let other = format!(".v.json.{gone}.0.tmp");
        let lookalike = format!(".w.json.1.{gone}.0.tmp");
        for n in [&stale, &running, &other, &lookalike] {
            fs::write(dir.path().join(n), b"torn").unwrap();
        }
        write(&dir.path().join("w.json"), b"x").unwrap();
        let mut kept = vec![other, lookalike, running, "w.json".to_string()];
        kept.sort();
        assert_eq!(names(dir.path()), kept);
    }
}
