//! Snapshots of the later stages for every ok fixture: `emit ir` (the energy graph) and
//! `emit grad` (energy and its gradient with respect to every real param, output and latent,
//! with the op-count comment), one section per model.

use ebmc::driver;

fn models(path: &std::path::Path) -> Vec<ebmc::check::Model> {
    let source = std::fs::read(path).unwrap();
    let checked = driver::check(&source);
    assert!(!checked.has_errors(), "{} does not check", path.display());
    checked.models
}

#[test]
fn emit_ir_and_grad_of_ok_fixtures() {
    insta::glob!("ebm/ok/*.ebm", |path| {
        let mut ir = String::new();
        let mut grad = String::new();
        for m in models(path) {
            ir.push_str(&format!(
                "// model {}\n{}",
                m.name,
                driver::emit_ir(&m).unwrap()
            ));
            grad.push_str(&format!(
                "// model {}\n{}",
                m.name,
                driver::emit_grad(&m, None, false).unwrap()
            ));
            if m.loss.is_some() {
                grad.push_str(&format!(
                    "// model {}: loss\n{}",
                    m.name,
                    driver::emit_grad(&m, None, true).unwrap()
                ));
            }
        }
        insta::assert_snapshot!("ir", ir);
        insta::assert_snapshot!("grad", grad);
    });
}

#[test]
fn emit_grad_wrt_names_only_those() {
    let m = models(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/latent.ebm"
    )))
    .remove(0);
    let text = driver::emit_grad(&m, Some(&["z".to_string()]), false).unwrap();
    assert!(text.contains("out grad.z"), "{text}");
    assert!(!text.contains("out grad.W"), "{text}");
    let err = driver::emit_grad(&m, Some(&["q".to_string()]), false).unwrap_err();
    assert!(err.contains("no variable `q`"), "{err}");
}
