//! The module map of the README holds: the stages form one chain, syntax → check → ir → grad
//! → interp → jit → compile → runtime → plot → clib → driver (and lsp beside it) → CLI, above
//! the leaves (span, diag, types, rng), and no module imports one above it. Read from the
//! source text: every `crate::NAME` (or, in `main.rs`, `ebmc::NAME`) outside comments names a
//! module the file depends on.

use std::path::{Path, PathBuf};

/// Bottom to top. A module may use its own rank and those below.
const LAYERS: &[&[&str]] = &[
    &["span", "atomic"],
    &["diag", "types"],
    &["syntax"],
    &["check"],
    &["rng"],
    &["ir"],
    &["grad"],
    &["interp"],
    &["jit"],
    &["compile"],
    &["runtime"],
    &["plot"],
    &["clib"],
    &["driver", "lsp"],
    &["testing"],
    &["main"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named by `prefix NAME` in `code`.
fn named_modules<'c>(code: &'c str, prefix: &str) -> Vec<&'c str> {
    code.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &code[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let Some(own) = rank(&module) else {
            wrong.push(format!(
                "{}: module `{module}` is not on the map",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let prefix = if module == "main" {
            "ebmc::"
        } else {
            "crate::"
        };
        for used in named_modules(&code, prefix) {
            seen += 1;
            match rank(used) {
                Some(r) if r <= own => {}
                Some(_) => wrong.push(format!(
                    "{}: `{module}` uses `{used}`, which is above it",
                    rel.display()
                )),
                None => wrong.push(format!(
                    "{}: uses `{used}`, which is not on the map",
                    rel.display()
                )),
            }
        }
    }
    assert!(
        seen > 100,
        "only {seen} uses found: is the scan reading src/?"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
