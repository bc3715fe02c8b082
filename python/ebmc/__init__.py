"""ebmc from Python: compile an energy-based model written in the ebmc language, then
evaluate its energy and gradients, train it and infer with it, on numpy arrays.

    import ebmc
    m = ebmc.compile("examples/regression.ebm")
    m.fit()                                  # as `ebmc run`: same seed, same weights
    m.infer(x=X)["y"]                        # a batch: one native call
    m.energy(x=X[0], y=0.3), m.grad(x=X[0], y=0.3)

Every call goes through the same library code as the `ebmc` command (see the README's
Python section); the native half is the module `ebmc._native`.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from ._native import EbmcError, Model, compile_model as _compile_model

__all__ = ["EbmcError", "Model", "compile"]


def compile(
    source_or_path: Union[str, "os.PathLike[str]"],
    model: Optional[str] = None,
    *,
    strict: bool = False,
    **consts: int,
) -> Model:
    """Compiles a model from source text, or from a file when given a path-like object, or
    a string that names an existing file or ends in `.ebm`. `model` chooses one model of a
    source that holds several. Keyword arguments bind consts of the source to whole numbers
    in place of their expressions (`compile(src, D=64)` for `const D = features` or
    `const D = 1`): a model written once serves data of any width. A const written
    `features`, `targets` or `classes` and not given here is read from the model's `data`
    clause. `energy` and `grad` run the native code training runs (fused multiply-adds,
    vector sums: equal to `ebmc eval` to rounding); `strict=True` makes them run the strict
    code of `ebmc eval` instead, its numbers bit for bit at about a quarter of the speed.
    Diagnostics raise `EbmcError`; a file that cannot be
    read raises `OSError`; a const the source does not declare raises `ValueError`."""
    bound = []
    for name, value in consts.items():
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"const {name}: expected a whole number >= 0, found {value!r}")
        bound.append((name, int(value)))
    if isinstance(source_or_path, os.PathLike):
        return _compile_model(path=os.fspath(source_or_path), model=model, consts=bound, strict=strict)
    if not isinstance(source_or_path, str):
        raise TypeError(
            f"compile takes source text or a path, not {type(source_or_path).__name__}"
        )
    looks_like_path = "\n" not in source_or_path and (
        source_or_path.endswith(".ebm") or os.path.isfile(source_or_path)
    )
    if looks_like_path:
        return _compile_model(path=source_or_path, model=model, consts=bound, strict=strict)
    return _compile_model(source=source_or_path, model=model, consts=bound, strict=strict)
