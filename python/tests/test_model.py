"""ebmc from Python against the `ebmc` command: the same numbers, bit for bit.

* energies and gradients equal `ebmc eval --point` at random points, for every example
  model, bit for bit with `strict=True` and to rounding with the default (training's) code,
  one point at a time and as a batch;
* `fit` saves the bytes `ebmc run --seed S --save` saves, from the model's data and from
  the same training rows given as arrays;
* `infer` equals `ebmc run --out` on the test rows (a batch), and `ebmc run --at` at a point;
* diagnostics raise `EbmcError` with the code and the rendered report; weights round-trip
  through `save`/`load` and the `weights` property; wrong names and shapes raise ValueError.

The binary is `$EBMC_BIN`, else `target/release/ebmc` of the repository (python/test.sh
builds it).
"""

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ebmc

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EBMC = Path(os.environ.get("EBMC_BIN", REPO / "target" / "release" / "ebmc"))

# Every example whose energy a point can be drawn for (all of them).
MODELS = [
    "binary",
    "contrastive",
    "digits",
    "implicit",
    "iris",
    "latent",
    "regression",
    "rosenbrock",
    "wine",
]


def ebmc_cli(*args, cwd=None):
    """Runs the binary; its stdout (a failure shows stderr)."""
    if not EBMC.exists():
        pytest.skip(f"no ebmc binary at {EBMC}: run python/test.sh")
    r = subprocess.run(
        [str(EBMC), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )
    assert r.returncode == 0, f"ebmc {' '.join(map(str, args))}: {r.stderr}"
    return r.stdout


def random_point(model, rng, rows=None):
    """A value for every variable: reals normal, classes and signs uniform."""
    point = {}
    for name, (role, ty) in model.variables.items():
        lead = () if rows is None else (rows,)
        if ty.startswith("class"):
            k = int(ty[len("class[") : -1])
            point[name] = rng.integers(0, k, size=lead)
        elif ty == "sign":
            point[name] = rng.choice([-1, 1], size=lead)
        else:
            dims = () if ty == "real" else tuple(
                int(d) for d in ty[len("real[") : -1].split(",")
            )
            if role == "param":
                lead = ()
            point[name] = rng.normal(size=lead + dims)
    return point


def as_json(value):
    return np.asarray(value).tolist()


@pytest.mark.parametrize("name", MODELS)
def test_energy_and_grad_equal_ebmc_eval(name, tmp_path):
    strict = ebmc.compile(EXAMPLES / f"{name}.ebm", strict=True)
    fast = ebmc.compile(EXAMPLES / f"{name}.ebm")
    rng = np.random.default_rng(len(name))
    for trial in range(2):
        point = random_point(strict, rng)
        file = tmp_path / f"point{trial}.json"
        file.write_text(json.dumps({k: as_json(v) for k, v in point.items()}))
        expected = json.loads(ebmc_cli("eval", EXAMPLES / f"{name}.ebm", "--point", file))
        assert strict.energy(**point) == expected["energy"]
        assert fast.energy(**point) == pytest.approx(expected["energy"], rel=1e-12, abs=1e-12)
        for model, exact in [(strict, True), (fast, False)]:
            grads = model.grad(**point)
            assert sorted(grads) == sorted(expected["grad"])
            for k, g in grads.items():
                want = np.array(expected["grad"][k], dtype=float)
                assert g.shape == want.shape, k
                if exact:
                    assert np.array_equal(g, want), k
                else:
                    assert np.allclose(g, want, rtol=1e-12, atol=1e-12), k


def test_params_given_in_a_call_hold_for_that_call_only():
    # The kernel keeps the model's params in its buffers between calls: a param given in
    # one call must not stay there, and new weights (assigned, loaded or fitted) must reach
    # the next call.
    model = ebmc.compile(EXAMPLES / "regression.ebm")
    rng = np.random.default_rng(11)
    x, w = rng.normal(size=10), rng.normal(size=10)
    before = model.energy(x=x, y=1.0)
    given = model.energy(x=x, y=1.0, w=w)
    assert given != before
    assert model.energy(x=x, y=1.0) == before
    assert model.energy(x=np.stack([x, x]), y=np.array([1.0, 1.0]), w=w)[1] == given
    assert model.energy(x=x, y=1.0) == before
    model.weights = {"w": w}
    assert model.energy(x=x, y=1.0) == given
    model.fit(epochs=1)
    b = float(model.weights["b"])
    w_fit = model.weights["w"]
    assert model.energy(x=x, y=1.0) == pytest.approx(
        0.5 * (np.dot(w_fit, x) + b - 1.0) ** 2, rel=1e-12
    )


def test_a_non_finite_value_in_a_batch_names_its_row():
    model = ebmc.compile(EXAMPLES / "regression.ebm")
    x = np.zeros((6, 10))
    x[4, 7] = np.inf
    with pytest.raises(ValueError, match=r"`x`, row 4: not a value of its type"):
        model.energy(x=x, y=np.zeros(6))
    y = np.zeros(6)
    y[5] = np.nan
    with pytest.raises(ValueError, match=r"`y`, row 5: not a value of its type"):
        model.grad(x=np.zeros((6, 10)), y=y)
    with pytest.raises(ValueError, match=r"`x`: not a value of its type"):
        model.energy(x=x[4], y=0.0)


@pytest.mark.parametrize("name", ["digits", "latent", "binary", "iris"])
def test_a_batch_is_its_rows(name):
    model = ebmc.compile(str(EXAMPLES / f"{name}.ebm"))
    rng = np.random.default_rng(3)
    batch = random_point(model, rng, rows=5)
    energies = model.energy(**batch)
    grads = model.grad(**batch)
    assert energies.shape == (5,)
    for r in range(5):
        row = {
            k: (v if model.variables[k][0] == "param" else v[r]) for k, v in batch.items()
        }
        assert model.energy(**row) == energies[r]
        for k, g in model.grad(**row).items():
            assert np.array_equal(g, grads[k][r]), k


def test_arrays_of_any_layout_and_dtype_give_the_same_numbers():
    # A contiguous float64 array is read in place; a strided view, a Fortran-ordered array and
    # an integer array are converted first: every one must give the same bits.
    model = ebmc.compile(EXAMPLES / "regression.ebm")
    rng = np.random.default_rng(5)
    wide = rng.integers(-3, 4, size=(6, 20)).astype(float)
    x = np.ascontiguousarray(wide[:, ::2])
    y = np.arange(6.0)
    expected = model.grad(x=x, y=y)
    for layout in [wide[:, ::2], np.asfortranarray(x), x.astype(np.int64)]:
        got = model.grad(x=layout, y=y)
        for k in expected:
            assert np.array_equal(got[k], expected[k]), k
    assert np.array_equal(model.energy(x=wide[:, ::2], y=y), model.energy(x=x, y=y))


def test_params_default_to_weights():
    model = ebmc.compile(EXAMPLES / "regression.ebm")
    model.weights = {"w": np.arange(10.0) / 10, "b": 0.5}
    x = np.linspace(-1, 1, 10)
    expected = 0.5 * (np.dot(np.arange(10.0) / 10, x) + 0.5 - 2.0) ** 2
    assert model.energy(x=x, y=2.0) == pytest.approx(expected, rel=1e-12)
    explicit = model.energy(x=x, y=2.0, w=np.zeros(10), b=0.0)
    assert explicit == pytest.approx(0.5 * 4.0)


@pytest.mark.parametrize("name", ["regression", "digits", "binary"])
def test_fit_saves_the_bytes_ebmc_run_saves(name, tmp_path):
    src = EXAMPLES / f"{name}.ebm"
    ebmc_cli("run", src, "--seed", 5, "--save", tmp_path / "cli.json", "--quiet")
    model = ebmc.compile(src)
    losses = model.fit(seed=5)
    assert len(losses) > 0 and all(np.isfinite(losses))
    assert model.seed == 5
    model.save(tmp_path / "py.json")
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_fit_on_arrays_equals_fit_on_the_file(tmp_path):
    """The training rows of the split, given as arrays in file order, train the same
    weights: the split is the only difference, and arrays are all training rows."""
    src = EXAMPLES / "regression.ebm"
    ebmc_cli("run", src, "--save", tmp_path / "cli.json", "--out", tmp_path / "out.csv", "--quiet")
    header, rows = read_rows(EXAMPLES / "data" / "diabetes.csv")
    _, out = read_rows(tmp_path / "out.csv")
    test_lines = {int(r[0]) for r in out}
    train = [r for i, r in enumerate(rows) if i + 2 not in test_lines]
    data = np.array(train, dtype=float)
    model = ebmc.compile(src)
    model.fit(x=data[:, :10], y=data[:, 10])
    model.save(tmp_path / "py.json")
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


@pytest.mark.parametrize("name,file,inputs,output", [
    ("digits", "digits.csv", slice(0, 64), "y"),
    ("regression", "diabetes.csv", slice(0, 10), "y"),
    ("binary", "breast_cancer.csv", slice(0, 30), "y"),
])
def test_infer_equals_ebmc_run_out(name, file, inputs, output, tmp_path):
    src = EXAMPLES / f"{name}.ebm"
    ebmc_cli("run", src, "--save", tmp_path / "w.json", "--out", tmp_path / "out.csv", "--quiet")
    model = ebmc.compile(src)
    model.fit()
    header, rows = read_rows(EXAMPLES / "data" / file)
    out_header, out = read_rows(tmp_path / "out.csv")
    lines = [int(r[0]) for r in out]
    x = np.array([rows[line - 2][inputs] for line in lines], dtype=float)
    predicted = model.infer(x=x)[output]
    assert predicted.shape[0] == len(lines)
    expected = np.array([float(r[1]) for r in out])
    np.testing.assert_array_equal(predicted.astype(float), expected)


def test_infer_equals_ebmc_run_at(tmp_path):
    src = EXAMPLES / "regression.ebm"
    model = ebmc.compile(src)
    model.fit()
    model.save(tmp_path / "w.json")
    x = [0.02, -0.04, 0.06, 0.0, 0.01, 0.02, -0.03, 0.04, 0.01, -0.02]
    ebmc_cli("run", src, "--weights", tmp_path / "w.json", "--at", f"x={json.dumps(x)}",
             "--out", tmp_path / "at.csv", "--quiet")
    _, out = read_rows(tmp_path / "at.csv")
    y = model.infer(x=np.array(x))["y"]
    assert y.shape == ()
    assert float(y) == float(out[0][0])


def test_model_without_data_infers_once(tmp_path):
    src = EXAMPLES / "rosenbrock.ebm"
    ebmc_cli("run", src, "--out", tmp_path / "out.csv", "--quiet")
    _, out = read_rows(tmp_path / "out.csv")
    y = ebmc.compile(src).infer()["y"]
    np.testing.assert_array_equal(y, np.array(out[0], dtype=float))
    np.testing.assert_allclose(y, np.ones(10), atol=1e-3)


def test_diagnostics_raise_ebmc_error():
    path = REPO / "tests" / "ebm" / "err" / "e0101_three_independent_errors.ebm"
    with pytest.raises(ebmc.EbmcError) as caught:
        ebmc.compile(path)
    e = caught.value
    # The code of the first error; the report holds every one, as `ebmc check` prints it.
    assert e.code == "E0201"
    assert str(e) == e.rendered
    assert "[E0201]" in e.rendered and "[E0101]" in e.rendered and "Wt" in e.rendered
    assert "\x1b[" not in e.rendered  # no colour
    assert str(path) in e.rendered
    assert isinstance(e, Exception)
    if EBMC.exists():
        check = subprocess.run([str(EBMC), "check", "--color", "never", str(path)],
                               capture_output=True, text=True)
        assert check.returncode == 1
        assert e.rendered.strip() in check.stdout + check.stderr


def test_source_text_compiles_and_its_errors_name_the_source():
    m = ebmc.compile("model m { output y : real  energy (y - 2)^2  infer y by descent }")
    assert m.name == "m"
    with pytest.raises(ebmc.EbmcError) as caught:
        ebmc.compile("model m { output y : real  energy (q - 2)^2 }")
    assert caught.value.code == "E0101"
    assert "<source>" in caught.value.rendered


def test_choosing_a_model():
    two = "model a { output y : real  energy y^2 }\nmodel b { output y : real  energy (y-1)^2 }"
    with pytest.raises(ValueError, match="several models"):
        ebmc.compile(two)
    assert ebmc.compile(two, model="b").name == "b"
    with pytest.raises(ValueError, match="no model `c`"):
        ebmc.compile(two, model="c")


def test_missing_file_is_os_error():
    with pytest.raises(OSError):
        ebmc.compile("no/such/model.ebm")


def test_weights_round_trip(tmp_path):
    model = ebmc.compile(EXAMPLES / "digits.ebm")
    w = model.weights
    assert w["W"].shape == (10, 64) and w["b"].shape == (10,)
    rng = np.random.default_rng(0)
    new = {"W": rng.normal(size=(10, 64)), "b": rng.normal(size=10)}
    model.weights = new
    model.save(tmp_path / "w.json")
    other = ebmc.compile(EXAMPLES / "digits.ebm")
    other.load(tmp_path / "w.json")
    for k in new:
        assert np.array_equal(other.weights[k], new[k])
    # A partial assignment keeps the rest.
    other.weights = {"b": np.zeros(10)}
    assert np.array_equal(other.weights["W"], new["W"])
    assert np.array_equal(other.weights["b"], np.zeros(10))


def test_wrong_names_and_shapes_are_value_errors():
    model = ebmc.compile(EXAMPLES / "digits.ebm")
    with pytest.raises(ValueError, match=r"`W` is .*\(10, 64\).*found shape \(64, 10\)"):
        model.weights = {"W": np.zeros((64, 10))}
    with pytest.raises(ValueError, match="no variable `V`"):
        model.weights = {"V": np.zeros(3)}
    with pytest.raises(ValueError, match="weights are params"):
        model.weights = {"x": np.zeros(64)}
    with pytest.raises(ValueError, match="no value for the output `y`"):
        model.energy(x=np.zeros(64))
    with pytest.raises(ValueError, match="found shape \\(63,\\)"):
        model.energy(x=np.zeros(63), y=1)
    with pytest.raises(ValueError, match="not a value of its type"):
        model.energy(x=np.zeros(64), y=10)
    with pytest.raises(ValueError, match="same number"):
        model.energy(x=np.zeros((3, 64)), y=np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="infer takes inputs"):
        model.infer(x=np.zeros(64), y=1)
    with pytest.raises(ValueError, match="no value for the input `x`"):
        model.infer()
    with pytest.raises(ValueError, match="no rows for the output `y`"):
        model.fit(x=np.zeros((5, 64)))


def test_load_refuses_a_file_of_another_model(tmp_path):
    ebmc.compile(EXAMPLES / "regression.ebm").save(tmp_path / "w.json")
    with pytest.raises(ebmc.EbmcError) as caught:
        ebmc.compile(EXAMPLES / "digits.ebm").load(tmp_path / "w.json")
    assert caught.value.code is None
    assert "w.json" in str(caught.value)


def test_consts_bound_from_outside_the_source():
    source = """model m {
      const D = 1
      input x : real[D]   output y : real
      param w : real[D] = 0
      energy 0.5 * (dot(w, x) - y)^2
      infer y by descent(steps = 1, rate = 1)
    }"""
    assert ebmc.compile(source).variables["x"] == ("input", "real[1]")
    m = ebmc.compile(source, D=5)
    assert m.variables["x"] == ("input", "real[5]")
    assert m.weights["w"].shape == (5,)
    m.weights = {"w": np.arange(5.0)}
    assert float(m.infer(x=np.ones(5))["y"]) == 10.0
    with pytest.raises(ValueError, match="no `const K`.*its consts are D"):
        ebmc.compile(source, K=3)
    with pytest.raises(ValueError, match="whole number"):
        ebmc.compile(source, D=2.5)


def test_consts_bound_to_the_data_in_the_source(tmp_path):
    source = """model m {
      const D = features
      input x : real[D]   output y : real
      param w : real[D] = 0
      energy 0.5 * (dot(w, x) - y)^2
      infer y by descent(steps = 1, rate = 1)
    }"""
    # Nothing binds `features` in source text without data: E0108, pointing at it.
    with pytest.raises(ebmc.EbmcError) as caught:
        ebmc.compile(source)
    assert caught.value.code == "E0108"
    assert "nothing bound `features`" in caught.value.rendered
    # Given from outside, as for any const.
    assert ebmc.compile(source, D=3).variables["x"] == ("input", "real[3]")
    # A file with a `data` clause: the width of the columns bound to the input.
    (tmp_path / "d.csv").write_text("a,b,c,t\n1,2,3,4\n2,3,4,5\n")
    with_data = source.replace("}", 'data "d.csv" { x = a..c, y = t } }', 1)
    path = tmp_path / "m.ebm"
    path.write_text(with_data)
    assert ebmc.compile(path).variables["x"] == ("input", "real[3]")


def test_sample_discrete_follows_the_gibbs_distribution():
    model = ebmc.compile(EXAMPLES / "digits.ebm")
    model.fit(epochs=2)
    header, rows = read_rows(EXAMPLES / "data" / "digits.csv")
    x = np.array(rows[0][:64], dtype=float) / 16.0
    e = np.array([model.energy(x=x, y=c) for c in range(10)])
    p = np.exp(-(e - e.min()))
    p /= p.sum()
    draws = model.sample(20000, x=x, seed=1)["y"]
    assert draws.shape == (20000,) and draws.dtype == np.int64
    freq = np.bincount(draws, minlength=10) / len(draws)
    np.testing.assert_allclose(freq, p, atol=0.015)
    # Seeded: the same draws again; a batch is rows × n.
    assert np.array_equal(model.sample(50, x=x, seed=1)["y"], draws[:50])
    assert model.sample(7, x=np.stack([x, x, x])).get("y").shape == (3, 7)


def test_sample_real_by_langevin():
    m = ebmc.compile("model m { output y : real[2]  energy 0.5 * sqnorm(y - [3, -1])  infer y by descent }")
    y = m.sample(4000, steps=200, step=0.05, seed=2)["y"]
    assert y.shape == (4000, 2)
    np.testing.assert_allclose(y.mean(axis=0), [3, -1], atol=0.08)
    np.testing.assert_allclose(y.var(axis=0), [1, 1], atol=0.12)
    with pytest.raises(ValueError, match="step must be positive"):
        m.sample(3, step=0.0)


def test_sample_with_the_models_sampler_equals_ebmc_sample(tmp_path):
    # A model whose `infer` samples draws with that compiled sampler, as `ebmc sample` does:
    # the same chains for the same seed, bit for bit (the model has no standardization, so
    # its units are the data's).
    source = """model c {
  input x : real
  output y : real[2]
  param w : real[2] = [1.5, -0.5]
  energy 0.5 * sqnorm(y - w * x)
  infer y by hmc(steps = 30, leapfrog = 5, rate = 0.2)
}
"""
    path = tmp_path / "c.ebm"
    path.write_text(source)
    m = ebmc.compile(path)
    m.save(tmp_path / "w.json")
    ebmc_cli(
        "sample", path, "--at", "x=2", "--n", "64", "--seed", "9",
        "--weights", tmp_path / "w.json", "--out", tmp_path / "s.csv",
    )
    _, rows = read_rows(tmp_path / "s.csv")
    expected = np.array(rows, dtype=float)
    got = m.sample(64, seed=9, x=2.0)["y"]
    assert got.shape == (64, 2)
    assert np.array_equal(got, expected)
    # A batch: row r is the chains at x[r]; the first row is the draw above.
    batch = m.sample(64, seed=9, x=np.array([2.0, -1.0]))["y"]
    assert batch.shape == (2, 64, 2) and np.array_equal(batch[0], expected)
    # HMC samples N(w x, I): the means within 5 standard errors of the centre (the chains
    # start independently, 30 exact-MH steps from a standard normal start are well mixed).
    many = m.sample(4000, seed=1, x=-1.0)["y"]
    np.testing.assert_allclose(many.mean(axis=0), [-1.5, 0.5], atol=5 / np.sqrt(4000))
    # steps and step override the model's; gibbs has no step size.
    short = m.sample(8, seed=9, steps=1, x=2.0)["y"]
    assert not np.array_equal(short, expected[:8])
    g = ebmc.compile("model s { output y : sign[3]  energy -sum(y)  infer y by gibbs(sweeps = 5) }")
    with pytest.raises(ValueError, match="no step size"):
        g.sample(4, step=0.1)
    assert set(np.unique(g.sample(200, seed=2)["y"])) <= {-1, 1}
