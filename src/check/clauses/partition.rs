//! The `partition by` clause (spec section 13): how `log Z` of a density model is computed for
//! its `nll` metric. `enumerate` sums over every answer of discrete outputs (the checker's
//! enumeration limit applies); `grid` integrates real outputs of at most [`MAX_GRID_DIMS`]
//! elements by midpoint quadrature on `[lo, hi]` in every coordinate.

use super::*;

pub(super) const AIS: &[ArgSpec] = &[
    arg("chains", Range::Int(2), Some(100.0)),
    arg("steps", Range::Int(1), Some(1000.0)),
];

pub(super) const GRID: &[ArgSpec] = &[
    arg("points", Range::Int(1), Some(200.0)),
    arg("lo", Range::Any, Some(-4.0)),
    arg("hi", Range::Any, Some(4.0)),
];

impl<'a> Checker<'a> {
    pub(super) fn partition(
        &mut self,
        d: &ast::Decl,
        outputs: &[usize],
        sampler: Option<&'static str>,
    ) -> Option<Partition> {
        let DeclKind::Partition { method: m } = &d.kind else {
            unreachable!()
        };
        let p = match m.name.name.as_str() {
            "enumerate" => {
                self.no_args(m)?;
                Partition::Enumerate
            }
            "grid" => {
                let a = self.args(m, GRID, false)?;
                let (points, lo, hi) = (a.values[0] as usize, a.values[1], a.values[2]);
                if lo >= hi {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            m.span,
                            format!(
                                "expected `lo` below `hi`, found lo = {} and hi = {}",
                                fmt_num(lo),
                                fmt_num(hi)
                            ),
                        )
                        .label("an empty interval")
                        .help("the grid covers [lo, hi] in every output coordinate, e.g. `grid(points = 200, lo = -4, hi = 4)`"),
                    );
                    return None;
                }
                Partition::Grid { points, lo, hi }
            }
            "ais" => {
                let a = self.args(m, AIS, false)?;
                Partition::Ais {
                    chains: a.values[0] as usize,
                    steps: a.values[1] as usize,
                }
            }
            _ => {
                self.unknown_method(m, "partition", &["enumerate", "grid", "ais"]);
                return None;
            }
        };
        // A conditional model has one partition function per input: no single `log Z`.
        if let Some(&i) = self.var_indices(Role::Input).first() {
            let x = self.var(i);
            self.error(
                Diagnostic::new(
                    Code::Partition,
                    d.span,
                    "expected a density model (no `input`) for `partition by`, found a model with inputs".to_string(),
                )
                .label("`log Z` of a density model")
                .secondary(x.span, format!("`{}` is an input: Z(x) depends on it", x.name))
                .help("remove `partition by`, or model the density of every variable: make the inputs outputs"),
            );
            return None;
        }
        let real: Vec<usize> = outputs
            .iter()
            .copied()
            .filter(|&i| !self.var(i).ty.is_discrete())
            .collect();
        match p {
            Partition::Ais { .. } => {
                // Discrete outputs anneal from the uniform distribution by `gibbs`, real ones
                // from N(0, I) by `langevin` or `hmc`: the model's own sampler.
                let want = if real.is_empty() {
                    "gibbs"
                } else {
                    "langevin` or `hmc"
                };
                let fits = match sampler {
                    Some("gibbs") => real.is_empty(),
                    Some(_) => real.len() == outputs.len(),
                    None => false,
                };
                if !fits {
                    let found = sampler.map_or("none".to_string(), |s| format!("`{s}`"));
                    self.error(
                        Diagnostic::new(
                            Code::Partition,
                            m.name.span,
                            format!("expected `infer … by {want}(…)` for `ais`, found {found}"),
                        )
                        .label("`ais` moves its chains with the model's sampler")
                        .help(if real.is_empty() {
                            "add `infer v by gibbs(sweeps = 10)` naming every output".to_string()
                        } else {
                            "add `infer y by hmc(steps = 100)` naming every output (all real)"
                                .to_string()
                        }),
                    );
                    return None;
                }
            }
            Partition::Enumerate => {
                if let Some(&i) = real.first() {
                    let v = self.var(i);
                    self.error(
                        enumerate_real(m.name.span, &v.name, &v.ty, "output")
                            .help("integrate a real output with `partition by grid(points = 200, lo = -4, hi = 4)`"),
                    );
                    return None;
                }
            }
            Partition::Grid { points, .. } => {
                if real.len() < outputs.len() {
                    let v = self.var(
                        *outputs
                            .iter()
                            .find(|&&i| self.var(i).ty.is_discrete())
                            .expect("a discrete output"),
                    );
                    self.error(
                        Diagnostic::new(
                            Code::Partition,
                            m.name.span,
                            format!(
                                "expected real outputs for `grid`, found `{}` of type `{}`",
                                v.name, v.ty
                            ),
                        )
                        .label("quadrature over real coordinates")
                        .secondary(v.span, format!("`{}` is discrete", v.name))
                        .help("sum over the answers of discrete outputs with `partition by enumerate`"),
                    );
                    return None;
                }
                let dims: usize = real.iter().map(|&i| self.var(i).ty.elements()).sum();
                if dims > MAX_GRID_DIMS {
                    let v = self.var(real[0]);
                    self.error(
                        Diagnostic::new(
                            Code::Partition,
                            m.name.span,
                            format!(
                                "expected at most {MAX_GRID_DIMS} output coordinates for `grid`, found {dims}"
                            ),
                        )
                        .label(format!("a grid in {dims} dimensions"))
                        .secondary(v.span, format!("`{}` is `{}`", v.name, v.ty))
                        .help("a grid's cost grows as points^dims: integrate at most 3 coordinates, or leave out `partition by` (no `nll` metric)"),
                    );
                    return None;
                }
                let cells = (points as f64).powi(dims as i32);
                if cells > MAX_GRID_CELLS as f64 {
                    self.error(
                        Diagnostic::new(
                            Code::Partition,
                            m.span,
                            format!(
                                "expected at most {MAX_GRID_CELLS} grid cells, found {points}^{dims} = {}",
                                fmt_num(cells)
                            ),
                        )
                        .label("too many energy evaluations")
                        .help(format!(
                            "use fewer points: `points = {}` gives {} cells",
                            (MAX_GRID_CELLS as f64).powf(1.0 / dims as f64).floor(),
                            fmt_num((MAX_GRID_CELLS as f64).powf(1.0 / dims as f64).floor().powi(dims as i32))
                        )),
                    );
                    return None;
                }
            }
        }
        Some(p)
    }
}
