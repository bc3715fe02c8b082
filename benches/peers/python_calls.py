"""The Python package's call overhead and batched throughput (issue 15), and `ebmc build --lib`
wall time, in one run.

* per call: `Model.energy(x=..., y=...)` of M1 (`benches/models/m1_linreg.ebm`, 64 → 16) at one
  point, against the same energy as a plain NumPy expression and as a `jax.jit` function
  (float64), each the median of 7 batches of calls;
* batched: one `energy` call over 10,000 rows against the native throughput of the same
  code over a batch of distinct rows, `energy_rows_ns` of `ebmc bench` (its `energy_ns`, one
  point held in cache, is printed beside it), as a ratio of throughputs;
* `ebmc build --lib` of M1–M7, wall time from process start, each the median of 3.

Usage (from a clone, with the package installed: `pip install ./python`):
    python benches/peers/python_calls.py [path/to/ebmc]
JAX is optional (`pip install "jax[cpu]"`): without it its column is left out.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
# One thread everywhere: numpy's BLAS threads otherwise spin on the other core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import ebmc

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "benches" / "models"
EBMC = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "target" / "release" / "ebmc"


def per_call(f, calls=20000, batches=7):
    """Median seconds per call of f() over `batches` batches of `calls` calls."""
    f()
    times = []
    for _ in range(batches):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        times.append((time.perf_counter() - t) / calls)
    return statistics.median(times)


def main():
    rng = np.random.default_rng(0)
    m = ebmc.compile(MODELS / "m1_linreg.ebm")
    W = rng.normal(0, 0.1, (16, 64))
    b = rng.normal(0, 0.1, 16)
    m.weights = {"W": W, "b": b}
    x = rng.normal(size=64)
    y = rng.normal(size=16)

    # The native figures of the same code: one point held in cache, and a batch of rows.
    out = subprocess.run([str(EBMC), "bench", str(MODELS / "m1_linreg.ebm")],
                         capture_output=True, text=True)
    try:
        bench = json.loads(out.stdout) if out.returncode == 0 else {}
    except json.JSONDecodeError:
        bench = {}
    hot_ns = bench.get("energy_ns")

    e_ebmc = per_call(lambda: m.energy(x=x, y=y))
    e_numpy = per_call(lambda: 0.5 * float(np.sum((W @ x + b - y) ** 2)))
    overhead = f" (overhead over the native {hot_ns:.0f} ns: {e_ebmc * 1e6 - hot_ns / 1e3:.2f} us)" if hot_ns else ""
    print(f"M1 energy, one point: ebmc {e_ebmc * 1e6:.2f} us/call{overhead}, NumPy expression {e_numpy * 1e6:.2f} us/call", end="")
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        Wj, bj = jnp.asarray(W), jnp.asarray(b)
        f = jax.jit(lambda x, y: 0.5 * jnp.sum((Wj @ x + bj - y) ** 2))
        xj, yj = jnp.asarray(x), jnp.asarray(y)
        e_jax = per_call(lambda: float(f(xj, yj)), calls=5000)
        print(f", JAX jit {e_jax * 1e6:.2f} us/call (jax {jax.__version__}; ebmc {e_jax / e_ebmc:.1f}x faster)")
    except ImportError:
        print(" (no JAX installed)")

    # Batched: one call over n rows against the native throughput of the same code over rows.
    n = 10_000
    X = rng.normal(size=(n, 64))
    Y = rng.normal(size=(n, 16))
    times = []
    for _ in range(7):
        t = time.perf_counter()
        m.energy(x=X, y=Y)
        times.append(time.perf_counter() - t)
    batched = statistics.median(times) / n
    rows_ns = bench.get("energy_rows_ns")
    if rows_ns:
        print(f"M1 energy, {n} rows in one call: {batched * 1e9:.0f} ns/row; native {rows_ns:.0f} ns/row over "
              f"distinct rows ({hot_ns:.0f} ns at one point in cache; ebmc bench): batched at "
              f"{rows_ns / (batched * 1e9):.2f}x of native throughput")
    else:
        print(f"M1 energy, {n} rows in one call: {batched * 1e9:.0f} ns/row (ebmc bench gave no energy_rows_ns: {out.stderr.strip()[:200]})")

    # ebmc build --lib wall time.
    with tempfile.TemporaryDirectory() as d:
        for f in sorted(MODELS.glob("m*.ebm")):
            walls = []
            for k in range(3):
                t = time.perf_counter()
                r = subprocess.run([str(EBMC), "build", "--lib", str(f), "-o", f"{d}/{f.stem}{k}"],
                                   capture_output=True, text=True)
                walls.append(time.perf_counter() - t)
                if r.returncode != 0:
                    print(f"build --lib {f.name}: failed: {r.stderr.strip()[:200]}")
                    break
            print(f"ebmc build --lib {f.name}: {statistics.median(walls):.2f} s")


if __name__ == "__main__":
    main()
