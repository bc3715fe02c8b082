//! The command line's inputs other than sources, for the `files` fuzz target: data files,
//! weights and point files, `--at` values, `--memory` sizes, and output file names through the
//! atomic writer. The first byte picks which; the rest is the input.
//!
//! Properties, beyond never panicking:
//! * data: a loaded set has only finite values, class labels in range and signs ±1; an error
//!   is one message that names the file, with at most [`data::SHOWN`] problems listed;
//! * weights and points: accepted values have each variable's number of elements, all finite;
//! * `--at`: an accepted value has the variable's number of elements, all finite;
//! * `--memory`: an accepted size is at least one byte;
//! * the atomic writer: a name it accepts reads back exactly what was written, and nothing
//!   but the target is left in the directory (no temporary file), written or not.

use crate::check::{Model, Role, VarId};
use crate::driver;
use crate::runtime::{data, eval, memory, weights};
use crate::types::Ty;
use std::sync::OnceLock;

/// A model whose data binding covers every kind of cell: reals (standardized), a class and
/// a sign; its params cover scalars, vectors and matrices.
const MODEL: &str = r#"model m {
  input x : real[2]  output y : class[3]  input s : sign
  param W : real[3, 2]  param b : real[3]  param t : real
  energy (W @ x + b)[y] + t * s
  loss nll
  data "d.csv" { x = a..b, y = c, s = 3 } split 0.5 standardize x
}
"#;

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let checked = driver::check(MODEL.as_bytes());
        assert!(!checked.has_errors(), "the fuzz model checks");
        checked.models.into_iter().next().expect("one model")
    })
}

/// One input of the command line, as described in the module documentation.
pub fn files(bytes: &[u8]) -> Result<(), String> {
    let Some((&kind, rest)) = bytes.split_first() else {
        return Ok(());
    };
    match kind % 5 {
        0 => data_file(rest),
        1 => weights_file(rest),
        2 => at_value(rest),
        3 => memory_size(rest),
        _ => atomic_write(rest),
    }
}

fn data_file(bytes: &[u8]) -> Result<(), String> {
    let m = model();
    let decl = m.data.as_ref().expect("the model has data");
    match data::from_bytes(bytes, decl, &m.vars, 7) {
        Ok(loaded) => {
            for set in [&loaded.train, &loaded.test] {
                for (id, v) in m.vars.iter().enumerate() {
                    let Some(d) = set.var(VarId(id as u32)) else {
                        continue;
                    };
                    for r in 0..set.rows() {
                        for &x in d.row(r) {
                            if !v.ty.admits(x) {
                                return Err(format!("loaded {x} for `{}`", v.name));
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            if !text.starts_with("d.csv") {
                return Err(format!("a data error that does not name the file: {text}"));
            }
            let listed = text.lines().filter(|l| l.starts_with("d.csv:")).count();
            // The count line, the problems shown, and the line saying how many more.
            if listed > data::SHOWN + 2 {
                return Err(format!(
                    "{listed} problems listed, more than {}",
                    data::SHOWN
                ));
            }
            Ok(())
        }
    }
}

fn weights_file(bytes: &[u8]) -> Result<(), String> {
    let m = model();
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let expected: Vec<(&str, &Ty)> = m
        .vars_of(Role::Param)
        .map(|(_, v)| (v.name.as_str(), &v.ty))
        .collect();
    if let Ok(values) = weights::parse(text, "w.json", &expected) {
        for ((name, ty), v) in expected.iter().zip(&values) {
            if v.len() != ty.elements() || v.iter().any(|x| !x.is_finite()) {
                return Err(format!("accepted {v:?} for `{name}` : {ty:?}"));
            }
        }
    }
    Ok(())
}

fn at_value(bytes: &[u8]) -> Result<(), String> {
    let m = model();
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let admit = |_: VarId| Ok(());
    if let Ok((id, values)) = eval::parse_at(m, text, &admit) {
        let v = m.var(id);
        if values.len() != v.ty.elements() || values.iter().any(|x| !x.is_finite()) {
            return Err(format!("--at {text}: accepted {values:?} for `{}`", v.name));
        }
    }
    Ok(())
}

fn memory_size(bytes: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    match memory::parse_size(text) {
        Ok(0) => Err(format!("--memory {text}: accepted zero bytes")),
        _ => Ok(()),
    }
}

/// The first line of `bytes` is the file name (in a scratch directory), the rest the
/// contents.
fn atomic_write(bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ebmc-fuzz-files-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a scratch directory");
        d
    });
    let (name, contents) = match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[][..]),
    };
    // Names that leave the directory or name it are not what this property is about.
    if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." || name.contains(&0)
    {
        return Ok(());
    }
    let path = dir.join(std::ffi::OsStr::from_bytes(name));
    let result = crate::atomic::write(&path, contents);
    // Nothing but the target itself: the directory starts empty for every input.
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().as_bytes() != name)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !leftovers.is_empty() {
        return Err(format!("temporary files left: {leftovers:?}"));
    }
    if result.is_ok() {
        let back = std::fs::read(&path).map_err(|e| format!("written but unreadable: {e}"))?;
        std::fs::remove_file(&path).map_err(|e| format!("written but not removable: {e}"))?;
        if back != contents {
            return Err(format!(
                "read back {} bytes of {}",
                back.len(),
                contents.len()
            ));
        }
    }
    Ok(())
}
