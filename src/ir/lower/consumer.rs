//! Consumers: the link that ends a pipeline (`sum`, `any(pred)`, `find_first`, ...), `reduce`
//! and `fold(...)` with its consumer, whose accumulators and operators are typed here.

use super::*;

impl Lowerer {
    pub(super) fn consumer(&mut self, link: &Link, elem: Type) -> CResult<Consumer> {
        let name = link.name.name.as_str();
        Ok(match name {
            "sum" => {
                self.no_args(link)?;
                Consumer::Sum
            }
            "count" => {
                self.no_args(link)?;
                Consumer::Count
            }
            "min" | "max" => {
                self.no_args(link)?;
                if name == "min" {
                    Consumer::Min
                } else {
                    Consumer::Max
                }
            }
            "any" | "all" => {
                let pred = match link.args {
                    [] => None,
                    [f] => {
                        let (var, body) = self.stage_fn(f, elem, true)?;
                        Some(Lambda1 { var, body })
                    }
                    _ => {
                        return Err(err(
                            ErrorKind::Type,
                            link.span,
                            format!("`.{name}()` takes at most one argument"),
                        ))
                    }
                };
                if name == "any" {
                    Consumer::Any(pred)
                } else {
                    Consumer::All(pred)
                }
            }
            "collect" => {
                self.no_args(link)?;
                Consumer::Collect
            }
            "reduce" => self.reduce(link, elem)?,
            "product" => {
                self.no_args(link)?;
                if matches!(elem, Type::Float | Type::Num) {
                    return Err(unsupported(
                        link.name.span,
                        "a product of floats (or of values that may be floats) is not compiled: \
                         its rounding depends on the order of the multiplications, which chunks \
                         would change",
                    )
                    .with_help("multiply ints, or use reduce with an identity if the order does not matter to you"));
                }
                Consumer::Product
            }
            "find_first" | "find_any" | "position_first" | "position_any" => {
                let f = self.one_arg(link)?;
                let (var, body) = self.stage_fn(f, elem, true)?;
                Consumer::Find {
                    pred: Lambda1 { var, body },
                    position: name.starts_with("position"),
                }
            }
            "min_by_key" | "max_by_key" => {
                let f = self.one_arg(link)?;
                let (var, body) = self.stage_fn(f, elem, false)?;
                Consumer::ExtremeBy {
                    key: Lambda1 { var, body },
                    max: name == "max_by_key",
                }
            }
            other => {
                return Err(unsupported(
                    link.name.span,
                    format!("`.{other}()` is not a pipeline method"),
                )
                .with_help(format!("stages: map, filter, flat_map, enumerate, zip, chain, skip, take, step_by; consumers: {CONSUMERS}")))
            }
        })
    }

    pub(super) fn reduce(&mut self, link: &Link, elem: Type) -> CResult<Consumer> {
        let [ident, op] = link.args else {
            return Err(err(
                ErrorKind::Type,
                link.span,
                "`.reduce()` takes two arguments: an identity and `lambda a, b: ...`",
            ));
        };
        self.accumulator(ident, op, elem, None)
    }

    /// `.fold(identity, lambda acc, x: ...)` and the consumer after it (`then`): one sequential
    /// fold from the identity, whose result the consumer takes.
    pub(super) fn fold(
        &mut self,
        link: &Link,
        elem: Type,
        then: Option<&Link>,
    ) -> CResult<Consumer> {
        let [ident, op] = link.args else {
            return Err(err(
                ErrorKind::Type,
                link.span,
                "`.fold()` takes two arguments: an identity and `lambda acc, x: ...`",
            ));
        };
        let Some(then) = then else {
            return Err(
                err(ErrorKind::Syntax, link.span, "the pipeline has no consumer")
                    .with_help("fold gives an iterator: end it with a consumer, e.g. `.sum()`"),
            );
        };
        let Some(t) = FoldThen::from_name(&then.name.name) else {
            return Err(unsupported(
                then.name.span,
                format!("`.{}()` after `.fold()` is not compiled", then.name.name),
            )
            .with_help("end the fold with sum, count, min, max, collect, any or all"));
        };
        if !then.args.is_empty() || !then.kwargs.is_empty() {
            return Err(unsupported(
                then.span,
                format!(
                    "`.{}()` after `.fold()` takes no arguments here",
                    then.name.name
                ),
            ));
        }
        self.accumulator(ident, op, elem, Some(t))
    }

    /// The consumer of `reduce` (`fold: None`) or `fold(...)` and its consumer. The accumulator
    /// holds the identity, then what the operator returns: when these types differ (an int 0
    /// folding floats) it is a tagged number, and the operator is typed again for it. A reduce
    /// operator also combines chunk results, so its items have the accumulator's type; a fold's
    /// items keep the element's.
    fn accumulator(
        &mut self,
        ident: &ast::Expr,
        op: &ast::Expr,
        elem: Type,
        fold: Option<FoldThen>,
    ) -> CResult<Consumer> {
        // fastiter 0.1 takes the identity as a zero-argument callable; accept both.
        let ident_body = match &ident.kind {
            ast::ExprKind::Lambda { params, body } if params.is_empty() => &**body,
            _ => ident,
        };
        let identity = fold::fold_expr(self.expr(ident_body)?);
        let mut ty = match fold {
            Some(_) => identity.ty,
            None => join(identity.ty, elem),
        };
        loop {
            let item_ty = if fold.is_some() { elem } else { ty };
            let (acc, item, body) = self.operator_fn(op, fold.is_some(), ty, item_ty)?;
            let t = join(ty, body.ty);
            if t == ty {
                return Ok(Consumer::Reduce {
                    identity: coerce(identity, ty),
                    acc,
                    item,
                    op: coerce(body, ty),
                    fold,
                });
            }
            ty = t;
        }
    }

    /// The operator of `reduce` or `fold` (a two-parameter lambda or a def's name), typed for
    /// an accumulator of `acc_ty` and items of `item_ty`.
    fn operator_fn(
        &mut self,
        op: &ast::Expr,
        fold: bool,
        acc_ty: Type,
        item_ty: Type,
    ) -> CResult<(VarId, VarId, Expr)> {
        let (what, [a, b]) = if fold {
            ("fold", ["acc", "x"])
        } else {
            ("reduce", ["a", "b"])
        };
        if let ast::ExprKind::Name(n) = &op.kind {
            if let Some(d) = self.def_named(n).filter(|_| !self.is_local(n)) {
                let acc = self.new_var(a, acc_ty);
                let item = self.new_var(b, item_ty);
                let args = vec![
                    mk(ExprKind::Var(acc), acc_ty, op.span),
                    mk(ExprKind::Var(item), item_ty, op.span),
                ];
                let body = self.inline_call(d, args, op.span)?;
                return Ok((acc, item, body));
            }
        }
        let ast::ExprKind::Lambda { params, body } = &op.kind else {
            return Err(unsupported(
                op.span,
                format!("the {what} operator must be `lambda {a}, {b}: ...` or a function's name"),
            ));
        };
        let [pa, pb] = params.as_slice() else {
            return Err(err(
                ErrorKind::Type,
                op.span,
                format!("the {what} operator takes two arguments"),
            ));
        };
        let acc = self.new_var(&pa.name, acc_ty);
        let item = self.new_var(&pb.name, item_ty);
        let mark = self.scopes.len();
        self.scopes.push((pa.name.clone(), acc));
        self.scopes.push((pb.name.clone(), item));
        let res = self.expr(body);
        self.scopes.truncate(mark);
        Ok((acc, item, res?))
    }
}
