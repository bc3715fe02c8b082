"""The scikit-learn estimators: scikit-learn's own estimator checks (the ones that cannot
apply are listed with their reason), use in Pipeline, GridSearchCV and cross_val_score, and
predict_proba as the Gibbs distribution of the compiled model's energies."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import ebmc
from ebmc.sklearn import EnergyClassifier, EnergyRegressor

# Checks that cannot apply, with the reason: none. Every check scikit-learn runs passes; it
# skips `check_array_api_input` unless SCIPY_ARRAY_API=1 (the estimators take numpy arrays
# only and do not claim array API support).
EXPECTED_FAILED = {}


@parametrize_with_checks(
    [EnergyClassifier(epochs=50, rate=0.05), EnergyRegressor(epochs=100, rate=0.1)],
    expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_predict_proba_is_the_gibbs_distribution():
    X, y = load_digits(return_X_y=True)
    clf = EnergyClassifier(epochs=5).fit(X[:300], y[:300])
    model = clf._model_for()
    p = clf.predict_proba(X[300:305])
    for row, x in enumerate(X[300:305]):
        e = np.array([model.energy(x=x, y=c) for c in range(10)])
        q = np.exp(-(e - e.min()))
        np.testing.assert_allclose(p[row], q / q.sum(), rtol=1e-12)
    assert np.array_equal(clf.predict(X[300:305]), np.argmax(p, axis=1))
    # The model's own inference (enumerate: the class of least energy) agrees.
    assert np.array_equal(model.infer(x=X[300:305])["y"], clf.predict(X[300:305]))


def test_pipeline_grid_search_and_cross_val_score():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    pipe = make_pipeline(StandardScaler(), EnergyClassifier(epochs=10))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85, scores
    grid = GridSearchCV(pipe, {"energyclassifier__epochs": [2, 10]}, cv=2).fit(X, y)
    assert grid.best_params_["energyclassifier__epochs"] in (2, 10)


def test_regressor_recovers_a_linear_map():
    X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
    reg = EnergyRegressor(epochs=300, rate=0.1).fit(X, y)
    assert reg.score(X, y) > 0.99


def test_a_source_serves_as_the_model_at_any_width():
    source = """model m {
      const D = 1
      const C = 2
      input x : real[D]   output y : class[C]
      param W : real[C, D] ~ normal(0, 0.1)
      energy -(W @ x)[y]
      loss nll
      infer y by enumerate
      train by sgd(rate = 0.1, epochs = 20, batch = 4, seed = 3)
    }"""
    rng = np.random.default_rng(0)
    bind = {"D": "features", "C": "classes"}
    for width, labels in [(2, ["neg", "pos"]), (5, ["a", "b", "c"])]:
        X = rng.normal(size=(150, width))
        y = np.array(labels)[np.argmax(X[:, : len(labels)], axis=1)]
        clf = EnergyClassifier(source, consts=bind).fit(X, y)
        assert clf._model_for().variables["W"] == ("param", f"real[{len(labels)}, {width}]")
        assert set(clf.predict(X)) <= set(labels)
        assert clf.score(X, y) > 0.8
    # The same source binding its widths in the language needs no `consts`.
    in_language = source.replace("const D = 1", "const D = features").replace(
        "const C = 2", "const C = classes"
    )
    for width, labels in [(3, ["neg", "pos"]), (4, ["a", "b", "c"])]:
        X = rng.normal(size=(150, width))
        y = np.array(labels)[np.argmax(X[:, : len(labels)], axis=1)]
        clf = EnergyClassifier(in_language).fit(X, y)
        assert clf._model_for().variables["W"] == ("param", f"real[{len(labels)}, {width}]")
        assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="rate and batch"):
        EnergyClassifier(source, rate=0.1).fit(X, y)
    with pytest.raises(ValueError, match="one of 'features', 'classes'"):
        EnergyClassifier(source, consts={"D": "rows"}).fit(X, y)
