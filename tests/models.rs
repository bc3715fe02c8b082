//! The example models (`tests/ebm/ok/*.ebm`) through the checker, lowering and reverse mode:
//! every graph verifies, every gradient matches finite differences, every loss of section 6
//! lowers on each model where the spec allows it, and the gradient programs obey the
//! cheap-gradient principle (≤ 4× the function's weighted op count plus a small constant).

use ebmc::check::{LossKind, Model};
use ebmc::driver;
use ebmc::grad::{self, with_gradients, GradCost};
use ebmc::ir::{self, Graph, InputKind};
use ebmc::testing::gradcheck::{check_vjp, Outcome};
use ebmc::testing::random_ir;
use std::path::Path;

/// Every model of every `.ebm` fixture that checks cleanly.
fn models() -> Vec<(String, Model)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ebm/ok");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ebm"))
    {
        let checked = driver::check(&std::fs::read(f).unwrap());
        assert!(
            !checked.has_errors(),
            "{}: {:?}",
            f.display(),
            checked.diagnostics
        );
        for m in checked.models {
            out.push((
                format!("{}:{}", f.file_name().unwrap().to_string_lossy(), m.name),
                m,
            ));
        }
    }
    assert!(
        out.len() >= 8,
        "expected the example models, found {}",
        out.len()
    );
    out
}

const SLACK: u64 = 64;

/// Checks the gradient outputs of `grads` for output `of` at random points; returns how many
/// points away from kinks were checked.
fn fd_check(forward: &Graph, grads: &Graph, of: &str, seed: u64, label: &str) -> usize {
    let mut rng = random_ir::Rng::new(seed);
    let mut checked = 0;
    for _ in 0..8 {
        let point = random_ir::inputs(forward, &mut rng);
        let dir: Vec<Vec<f64>> = forward
            .inputs
            .iter()
            .map(|i| {
                let on = grads.output(&grad::grad_name(&i.name)).is_some();
                (0..i.shape().len())
                    .map(|_| if on { rng.normal() } else { 0.0 })
                    .collect()
            })
            .collect();
        match check_vjp(forward, grads, of, &point, &dir, 1e-4).unwrap() {
            Outcome::Kink => {}
            Outcome::Checked(c) => {
                assert!(c.relative_error() <= 1e-6, "{label}: {c:?}\n{grads}");
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn example_energies_and_their_gradients() {
    for (i, (name, m)) in models().into_iter().enumerate() {
        let p = ir::build(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        for g in [&p.energy, &p.free_energy]
            .into_iter()
            .chain(&p.answers)
            .chain(&p.loss)
        {
            ir::verify(g).unwrap_or_else(|e| panic!("{name}: {e}\n{g}"));
        }
        let g = grad::energy_gradient(&p.energy);
        ir::verify(&g).unwrap();
        let c = GradCost::of(&g, "energy");
        assert!(
            c.total <= 4 * c.function + SLACK,
            "{name}: {c:?}\n{}",
            grad::emit_text(&g, "energy")
        );
        assert!(
            fd_check(&p.energy, &g, "energy", 300 + i as u64, &name) >= 4,
            "{name}: too many kinks"
        );
        // The text `emit grad` prints reads back.
        assert_eq!(
            ir::parse(&grad::emit_text(&g, "energy"))
                .unwrap()
                .to_string(),
            g.to_string(),
            "{name}"
        );
    }
}

#[test]
fn every_loss_on_every_example() {
    let kinds = [
        LossKind::Energy,
        LossKind::Perceptron,
        LossKind::Hinge { margin: 0.5 },
        LossKind::Log,
        LossKind::Lvq2 { delta: 0.1 },
        LossKind::Mce,
        LossKind::SquareSquare { margin: 1.0 },
        LossKind::SquareExp { gamma: 1.0 },
        LossKind::Nll { beta: 1.0 },
        LossKind::Mee { beta: 1.0 },
        LossKind::Cd { alpha: 0.1 },
        LossKind::Dsm { sigma: 0.2 },
    ];
    let mut lowered = 0;
    for (i, (name, model)) in models().into_iter().enumerate() {
        let discrete = model
            .vars_of(ebmc::check::Role::Output)
            .all(|(_, v)| v.ty.is_discrete());
        for kind in kinds {
            let mut m = model.clone();
            let mut loss = m.loss.clone().expect("every example has a loss");
            loss.kind = kind;
            m.loss = Some(loss);
            let result = ir::loss(&m);
            // `cd` on discrete outputs takes ȳ from a sampler (`negatives gibbs`), as on real
            // ones; `dsm` and `nce` move real outputs.
            let refused = (kind.sums_answers() && !discrete)
                || (kind.is_density_loss() && discrete && !matches!(kind, LossKind::Cd { .. }));
            if refused {
                assert!(result.is_err(), "{name} {}: needs enumeration", kind.name());
                continue;
            }
            let g = grad::finish_loss(&m, Some(result.unwrap().unwrap())).unwrap();
            let label = format!("{name} {}", kind.name());
            let d = with_gradients(&g, "loss", &[InputKind::Param]);
            ir::verify(&d).unwrap();
            let c = GradCost::of(&d, "loss");
            assert!(
                c.total <= 4 * c.function + SLACK,
                "{label}: {c:?}\n{}",
                grad::emit_text(&d, "loss")
            );
            assert!(
                fd_check(&g, &d, "loss", 700 + i as u64, &label) >= 3,
                "{label}: too many kinks"
            );
            lowered += 1;
        }
    }
    assert!(lowered >= 60, "{lowered}");
}
