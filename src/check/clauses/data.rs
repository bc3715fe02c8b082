//! The `data` clause: every input and output bound to columns, once; the `split` fraction; and
//! the real variables to standardize.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn data(&mut self, data: &ast::Data) -> Option<Data> {
        let mut ok = true;
        let mut bindings: Vec<DataBinding> = Vec::new();
        let mut bound: Vec<(usize, Span)> = Vec::new();
        for b in &data.bindings {
            let candidates: Vec<String> = self
                .var_decls
                .iter()
                .filter_map(|d| match &d.kind {
                    DeclKind::Var {
                        role: Role::Input | Role::Output,
                        name,
                        ..
                    } => Some(name.name.clone()),
                    _ => None,
                })
                .collect();
            let i = match self.names.get(b.var.name.as_str()).copied() {
                Some((Sym::Var(i), _))
                    if matches!(
                        &self.var_decls[i].kind,
                        DeclKind::Var {
                            role: Role::Input | Role::Output,
                            ..
                        }
                    ) =>
                {
                    i
                }
                found => {
                    let what = match found {
                        Some((Sym::Var(i), _)) => match &self.var_decls[i].kind {
                            DeclKind::Var { role, .. } => {
                                format!("the {} `{}`", role.keyword(), b.var.name)
                            }
                            _ => unreachable!(),
                        },
                        Some(_) => format!("`{}`, which is not a variable", b.var.name),
                        None => format!("`{}`, which is not declared", b.var.name),
                    };
                    let help = did_you_mean(&b.var.name, candidates.iter().map(|s| s.as_str()))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "data columns bind inputs and outputs; params are trained, latents inferred".into());
                    let mut d = Diagnostic::new(
                        Code::DataBinding,
                        b.var.span,
                        format!("expected an input or output to bind, found {what}"),
                    )
                    .help(help);
                    if let Some((_, decl)) = found {
                        d = d.secondary(decl, "declared here");
                    }
                    self.error(d);
                    ok = false;
                    continue;
                }
            };
            if let Some((_, first)) = bound.iter().find(|(j, _)| *j == i) {
                self.error(duplicate_arg(&b.var.name, b.span, *first));
                ok = false;
                continue;
            }
            bound.push((i, b.span));
            let col = |c: &ast::Column| match &c.kind {
                ast::ColumnKind::Name(n) => Column::Name(n.clone()),
                ast::ColumnKind::Index(k) => Column::Index(*k),
            };
            bindings.push(DataBinding {
                var: VarId(i as u32),
                first: col(&b.first),
                last: b.last.as_ref().map(col),
                span: b.span,
            });
        }
        for i in self
            .var_indices(Role::Input)
            .into_iter()
            .chain(self.var_indices(Role::Output))
        {
            if !bound.iter().any(|(j, _)| *j == i) && ok {
                let v = self.var(i);
                let (name, vspan, role) = (v.name.clone(), v.span, v.role);
                self.error(
                    Diagnostic::new(Code::DataMissing, data.path_span, format!("expected a column for the {} `{name}`, found none", role.keyword()))
                        .label(format!("no binding for `{name}`"))
                        .secondary(vspan, "declared here")
                        .help(format!("add `{name} = column` (a header name, a 0-based index, or a range `first..last`)")),
                );
                ok = false;
            }
        }
        let split = match &data.split {
            Some(e) => match self.const_eval(e) {
                Some(f) if f > 0.0 && f <= 1.0 => Some(f),
                Some(f) => {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            e.span,
                            format!(
                                "expected a training fraction in (0, 1], found {}",
                                fmt_num(f)
                            ),
                        )
                        .help("`split 0.8` trains on 80 % of the rows and tests on the rest"),
                    );
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if let (Some(s), Some(_)) = (&data.split, &data.test) {
            self.error(
                Diagnostic::new(
                    Code::DuplicateClause,
                    data.test_span,
                    "expected one way to choose the test rows, found `split` and `test`",
                )
                .label("the test rows are this file's")
                .secondary(s.span, "and a fraction of the first file's")
                .help("keep `test \"file.csv\"` to test on that file and train on every row of the first, or `split` to split one file"),
            );
            ok = false;
        }
        let mut standardize = Vec::new();
        for s in &data.standardize {
            let found = bound
                .iter()
                .find(|(j, _)| {
                    matches!(&self.var_decls[*j].kind, DeclKind::Var { name, .. } if name.name == s.name)
                })
                .map(|(j, _)| *j);
            match found {
                // Its declaration has an error of its own already.
                Some(i) if self.vars[i].is_none() => ok = false,
                Some(i) if !self.var(i).ty.is_discrete() => {
                    if standardize.contains(&VarId(i as u32)) {
                        self.error(duplicate_arg(&s.name, s.span, s.span));
                        ok = false;
                    }
                    standardize.push(VarId(i as u32));
                }
                Some(i) => {
                    let t = self.var(i).ty.clone();
                    self.error(
                        Diagnostic::new(
                            Code::Standardize,
                            s.span,
                            format!(
                                "expected a real variable to standardize, found `{}` of type `{t}`",
                                s.name
                            ),
                        )
                        .help("class and sign values are labels; only real columns are z-scored"),
                    );
                    ok = false;
                }
                None => {
                    self.error(
                        Diagnostic::new(
                            Code::Standardize,
                            s.span,
                            format!(
                                "expected a variable bound in this `data` clause, found `{}`",
                                s.name
                            ),
                        )
                        .help("standardize names inputs or outputs bound to columns above"),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| Data {
            path: data.path.clone(),
            path_span: data.path_span,
            bindings,
            split,
            test: data.test.clone(),
            standardize,
        })
    }
}
