"""scikit-learn estimators over ebmc models: `EnergyClassifier` and `EnergyRegressor`.

Without a source they use the seed's architectures, written for the data's width at `fit`:

* `EnergyClassifier()`: linear scores, E(x, y) = (W @ x + b)[y], trained with `nll`;
  `predict_proba` is the Gibbs distribution p(y | x) = softmax(−E(x, ·)), `predict` its mode;
* `EnergyRegressor()`: E(x, y) = ½‖W @ x + b − y‖², trained with `loss energy`; `predict` is
  inference by descent (one step of rate 1 reaches the minimum of this quadratic).

With a source, the model's input `x` and output `y` take the columns of `X` and the targets.
Consts the source binds to the data (`const D = features`, `const C = classes`,
`const K = targets`) take the widths of the data at `fit`, so one source serves data of any
width. `consts` binds others, or overrides: `consts={"D": "features"}` (or `"classes"`,
`"targets"`, or a whole number) gives `const D = …` the number of columns of `X`, whatever
the source says (`ebmc.compile(source, D=64)` underneath). `epochs` and `seed` override the source's `train`
clause; `rate` and `batch` apply to the default architectures only.

The fitted estimator keeps the generated source and the weights, so it pickles and clones
as scikit-learn expects; the compiled model is rebuilt from them when needed.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import Model, compile as _compile
from ._native import data_consts as _data_consts

__all__ = ["EnergyClassifier", "EnergyRegressor"]

_CLASSIFIER = """model classifier {{
  const D = features
  const C = classes
  input  x : real[D]
  output y : class[C]
  param  W : real[C, D] ~ normal(0, 0.01)
  param  b : real[C] = 0
  energy (W @ x + b)[y]
  loss nll(beta = 1)
  infer y by enumerate
  train by adam(rate = {rate}, epochs = {epochs}, batch = {batch}, seed = {seed})
}}
"""

_REGRESSOR = """model regressor {{
  const D = features
  input  x : real[D]
  output y : real
  param  w : real[D] = 0
  param  b : real = 0
  energy 0.5 * (dot(w, x) + b - y)^2
  loss energy
  infer y by descent(steps = 1, rate = 1)
  train by adam(rate = {rate}, epochs = {epochs}, batch = {batch}, seed = {seed})
}}
"""

_REGRESSOR_MULTI = """model regressor {{
  const D = features
  const K = targets
  input  x : real[D]
  output y : real[K]
  param  W : real[K, D] = 0
  param  b : real[K] = 0
  energy 0.5 * sqnorm(W @ x + b - y)
  loss energy
  infer y by descent(steps = 1, rate = 1)
  train by adam(rate = {rate}, epochs = {epochs}, batch = {batch}, seed = {seed})
}}
"""


def _text_of(source: Any) -> str:
    """The text of a source given as text or as a path (as `ebmc.compile` takes it)."""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str)
        and "\n" not in source
        and (source.endswith(".ebm") or os.path.isfile(source))
    ):
        with open(source, encoding="utf-8-sig") as f:
            return f.read()
    return source


def _number(x: float) -> str:
    """A rate as the language writes numbers (no exponent)."""
    text = np.format_float_positional(float(x), trim="-")
    return text if "." in text else text + ".0"


class _EnergyEstimator(BaseEstimator):
    def __init__(
        self,
        source: Optional[str] = None,
        *,
        consts: Optional[Dict[str, Union[int, str]]] = None,
        epochs: Optional[int] = None,
        seed: Optional[int] = None,
        rate: Optional[float] = None,
        batch: Optional[int] = None,
    ):
        self.source = source
        self.consts = consts
        self.epochs = epochs
        self.seed = seed
        self.rate = rate
        self.batch = batch

    # The compiled model is not pickled: the source and weights rebuild it.
    def __getstate__(self) -> Dict[str, Any]:
        state = super().__getstate__()
        state = dict(state)
        state.pop("_model", None)
        return state

    def _model_for(self) -> Model:
        model = self.__dict__.get("_model")
        if model is None:
            model = _compile(self.source_, **self.consts_)
            model.weights = self.weights_
            self._model = model
        return model

    def _source_for(self, template: str, **widths: int):
        """The source and the values of its consts for data of these widths."""
        if self.source is not None:
            if self.rate is not None or self.batch is not None:
                raise ValueError(
                    "rate and batch apply to the default architecture; "
                    "a source states them in its `train` clause"
                )
            # `const D = features` in the source, then what `consts` says.
            wanted: Dict[str, Union[int, str]] = dict(_data_consts(_text_of(self.source)))
            wanted.update(self.consts or {})
            consts = {}
            for name, value in wanted.items():
                if isinstance(value, str):
                    if value not in widths:
                        raise ValueError(
                            f"consts: {name}={value!r}: expected a whole number or one of "
                            f"{', '.join(repr(w) for w in widths)}"
                        )
                    value = widths[value]
                consts[name] = value
            return self.source, consts
        if self.consts is not None:
            raise ValueError("consts bind a source's consts; the default architecture binds its own")
        source = template.format(
            rate=_number(0.01 if self.rate is None else self.rate),
            epochs=30 if self.epochs is None else int(self.epochs),
            batch=32 if self.batch is None else int(self.batch),
            seed=0 if self.seed is None else int(self.seed),
        )
        # The default architectures bind their widths in the language (`const D = features`).
        consts = {name: widths[what] for name, what in _data_consts(source)}
        return source, consts

    def _fit_model(self, source, X: np.ndarray, y: np.ndarray) -> Model:
        source, consts = source
        model = _compile(source, **consts)
        model.fit(x=X, y=y, epochs=self.epochs, seed=self.seed)
        self.source_ = source
        self.consts_ = consts
        self.weights_ = model.weights
        self._model = model
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class EnergyClassifier(ClassifierMixin, _EnergyEstimator):
    """A classifier whose class scores are energies: `predict_proba` is softmax(−E(x, ·))."""

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"EnergyClassifier needs samples of at least 2 classes in the data; "
                f"got 1 class: {self.classes_[0]!r}"
            )
        source = self._source_for(
            _CLASSIFIER, features=X.shape[1], classes=len(self.classes_)
        )
        self._fit_model(source, X, codes.astype(np.int64))
        return self

    def _energies(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        n, c = X.shape[0], len(self.classes_)
        if n == 0:
            return np.zeros((0, c))
        energies = self._model_for().energy(
            x=np.repeat(X, c, axis=0), y=np.tile(np.arange(c), n)
        )
        return np.asarray(energies).reshape(n, c)

    def predict_proba(self, X) -> np.ndarray:
        """The Gibbs distribution over the classes: softmax(−E(x, ·)), one row per sample."""
        e = -self._energies(X)
        e -= e.max(axis=1, keepdims=True)
        p = np.exp(e)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        e = -self._energies(X)
        m = e.max(axis=1, keepdims=True)
        return e - m - np.log(np.exp(e - m).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The class of lowest energy."""
        energies = self._energies(X)
        return self.classes_[np.argmin(energies, axis=1)]


class EnergyRegressor(RegressorMixin, _EnergyEstimator):
    """A regressor whose prediction is the model's inference y* = argmin_y E(x, y)."""

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._targets = None if y.ndim == 1 else y.shape[1]
        if y.ndim == 1:
            source = self._source_for(_REGRESSOR, features=X.shape[1])
        else:
            source = self._source_for(
                _REGRESSOR_MULTI, features=X.shape[1], targets=y.shape[1]
            )
        self._fit_model(source, X, y)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if X.shape[0] == 0:
            k = self.__dict__.get("_targets")
            return np.zeros((0,) if k is None else (0, k))
        return np.asarray(self._model_for().infer(x=X)["y"], dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
