//! Sources as the command line reads and reports them: a source is read only one byte past
//! the 8 MiB limit (so `/dev/zero` is refused at once, by every command that reads one), a
//! diagnostic shows a bounded excerpt of a long line, at most 100 diagnostics are rendered,
//! and a UTF-8 byte-order mark is skipped with columns counted as an editor shows them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ebmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(args)
        .output()
        .expect("ebmc runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn dev_zero_is_refused_without_being_read_to_its_end_by_every_command() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let commands: &[&[&str]] = &[
        &["check"],
        &["run"],
        &["emit", "ast"],
        &["emit", "ir"],
        &["eval", "--random"],
        &["bench"],
        &["plot", "landscape"],
    ];
    for c in commands {
        let mut args = vec!["--color", "never"];
        args.extend_from_slice(c);
        // `eval --random FILE` and `plot landscape FILE`: the file goes last either way.
        args.push("/dev/zero");
        let out = ebmc(&args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{c:?}: {text}");
        assert!(
            text.starts_with(
                "[E0005] Error: expected at most 8388608 bytes of source, found more\n"
            ),
            "{c:?}: {text}"
        );
        // The first line of /dev/zero is 8 MiB of NULs: only a bounded excerpt is echoed.
        assert!(
            text.len() < 1_000,
            "{c:?}: {} bytes of diagnostics",
            text.len()
        );
    }
}

/// A file that goes past the limit in the middle of a character: the reader stops there, and
/// the size is what is reported, not the cut character.
#[test]
fn a_character_cut_by_the_read_limit_is_reported_as_size() {
    let mut bytes = vec![b' '; 8 << 20];
    bytes.extend_from_slice("é model m { output y : real energy y^2 }\n".as_bytes());
    let (_dir, path) = scratch("big.ebm", &bytes);
    let out = ebmc(&["check", "--color", "never", path.to_str().unwrap()]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.starts_with("[E0005] Error: expected at most 8388608 bytes of source, found more\n"),
        "{}",
        &text[..text.len().min(500)]
    );
}

/// 2,000 unknown names on one 71 KB line: the first 100 are shown, each from an excerpt of the
/// line, with the source's column in its header, and one line counts the rest.
#[test]
fn two_thousand_errors_on_one_long_line_are_capped_and_excerpted() {
    let names: Vec<String> = (0..2000)
        .map(|i| format!("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz{i}"))
        .collect();
    let source = format!(
        "model m {{ output y : real energy y^2 + sum([{}]) }}\n",
        names.join(", ")
    );
    let (_dir, path) = scratch("long.ebm", source.as_bytes());
    let out = ebmc(&["check", "--color", "never", path.to_str().unwrap()]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text.matches("[E0101] Error").count(), 100);
    assert!(text.contains(&format!("found `{}`", names[99])));
    assert!(!text.contains(&format!("found `{}`", names[100])));
    assert!(
        text.ends_with("\nnote: 1900 more errors suppressed (only the first 100 are shown)\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(longest <= 220, "a line of {longest} characters");
    // The second name starts at column 78 of the source, though its excerpt is cut before it.
    let header = format!("─[ {}:1:78 ]", path.display());
    assert!(text.contains(&header), "{}", &text[..2000]);
    assert!(
        text.contains(" 1 │ …y : real energy y^2 + sum([zzz"),
        "{}",
        &text[..2000]
    );
}

#[test]
fn a_byte_order_mark_is_skipped_and_not_counted_in_columns() {
    let (_dir, ok) = scratch(
        "ok.ebm",
        b"\xef\xbb\xbfmodel m { output y : real energy y^2 }\n",
    );
    let out = ebmc(&["check", ok.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = ebmc(&["emit", "ast", ok.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_dir, bad) = scratch(
        "bad.ebm",
        b"\xef\xbb\xbfmodel m { output y : real energy y^2 + q }\n",
    );
    let out = ebmc(&["check", "--color", "never", bad.to_str().unwrap()]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.starts_with(&format!(
            "[E0101] Error: expected a known name, found `q`\n   ╭─[ {}:1:40 ]\n",
            bad.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(" 1 │ model m { output y : real energy y^2 + q }\n"),
        "{text}"
    );
}
