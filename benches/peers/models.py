"""M1, M2, M4 and the digits MLP of the benchmarks in JAX (jit, float64) and PyTorch (float64),
one thread each: training samples/s of one SGD epoch (batch 32) and inference rows/s of y*,
over 10,000 synthetic rows. `cargo bench --bench versus` times ebmc on the same models, data
sizes and settings and prints the ratios against the figures this script writes to
`benches/peers/results.json` (see run.sh, which runs both one after the other).

Models (the .ebm sources are in benches/versus.rs and benches/models/):
* M1 linreg   E = ½‖W x + b − y‖², x ∈ R^64, y ∈ R^16; inference: 10 descent steps, rate 0.1.
* M2 mlp      E = ½‖W2 tanh(W1 x + b1) + b2 − y‖², 784 → 256 → 10; inference as M1.
* M4 implicit E = ½‖tanh(A x + a) − tanh(B y + c)‖², 32 → 64, y ∈ R^32; loss hinge(0.5) with ȳ
              from 20 descent steps (rate 0.1) from N(0, I), projected to ≥ 0.3 from y after
              every step; inference: 100 descent steps, rate 0.1.
* digits MLP  E = (W2 tanh(W1 x + b1) + b2)[y], 64 → 128 → 10 classes, loss nll; inference:
              the lowest-energy class.

Usage: python models.py [--out results.json] [--only jax|torch]
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

N, BATCH = 10_000, 32


def best_of(f, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


# Each model: input width, output width (or classes), the parameter shapes, SGD rate,
# inference steps (None: enumerate classes).
MODELS = {
    "m1": dict(dx=64, dy=16, shapes=[(16, 64), (16,)], rate=0.01, steps=10),
    "m2": dict(dx=784, dy=10, shapes=[(256, 784), (256,), (10, 256), (10,)], rate=0.01, steps=10),
    "m4": dict(dx=32, dy=32, shapes=[(64, 32), (64,), (64, 32), (64,)], rate=0.01, steps=100),
    "digits_mlp": dict(dx=64, dy=10, shapes=[(128, 64), (128,), (10, 128), (10,)], rate=0.05, steps=None),
}


def data(m):
    rng = np.random.default_rng(7)
    xs = rng.uniform(-1, 1, (N, m["dx"]))
    if m["steps"] is None:
        ys = rng.integers(0, m["dy"], N)
    else:
        t = rng.uniform(-1, 1, (m["dy"], m["dx"])) / np.sqrt(m["dx"])
        ys = np.tanh(xs @ t.T) + 0.01 * rng.uniform(-1, 1, (N, m["dy"]))
    return xs, ys


def params(m):
    rng = np.random.default_rng(3)
    return [rng.normal(0, 0.05, s) if len(s) == 2 else np.zeros(s) for s in m["shapes"]]


# ---------------------------------------------------------------------------------------- JAX


def jax_model(name, jnp):
    def m1(p, x, y):
        w, b = p
        r = w @ x + b - y
        return 0.5 * jnp.dot(r, r)

    def m2(p, x, y):
        w1, b1, w2, b2 = p
        r = w2 @ jnp.tanh(w1 @ x + b1) + b2 - y
        return 0.5 * jnp.dot(r, r)

    def m4(p, x, y):
        a_, a, b_, c = p
        r = jnp.tanh(a_ @ x + a) - jnp.tanh(b_ @ y + c)
        return 0.5 * jnp.dot(r, r)

    def digits(p, x, y):
        w1, b1, w2, b2 = p
        return (w2 @ jnp.tanh(w1 @ x + b1) + b2)[y]

    return {"m1": m1, "m2": m2, "m4": m4, "digits_mlp": digits}[name]


def bench_jax(name, m, xs, ys):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    energy = jax_model(name, jnp)
    grad_y = jax.grad(energy, argnums=2)

    def descend(p, x, y0, steps, project=None):
        def body(y, _):
            y = y - 0.1 * grad_y(p, x, y)
            return (project(y) if project else y), None

        return jax.lax.scan(body, y0, None, length=steps)[0]

    def example_loss(p, x, y, key):
        if name == "digits_mlp":
            scores = jax.vmap(lambda k: energy(p, x, k))(jnp.arange(m["dy"]))
            return scores[y] + jax.nn.logsumexp(-scores)
        if name != "m4":
            return energy(p, x, y)

        def project(q):
            d = jnp.linalg.norm(q - y)
            away = y + 0.3 * jnp.where(d > 0, (q - y) / jnp.maximum(d, 1e-300), 1 / jnp.sqrt(m["dy"]))
            return jnp.where(d >= 0.3, q, away)

        y0 = project(jax.random.normal(key, y.shape, dtype=jnp.float64))
        neg = jax.lax.stop_gradient(descend(p, x, y0, 20, project))
        return jnp.maximum(0.0, 0.5 + energy(p, x, y) - energy(p, x, neg))

    def batch_loss(p, xb, yb, key):
        keys = jax.random.split(key, xb.shape[0])
        return jnp.mean(jax.vmap(example_loss, (None, 0, 0, 0))(p, xb, yb, keys))

    @jax.jit
    def epoch(p, xb, yb, key):
        def step(carry, b):
            p, key = carry
            key, sub = jax.random.split(key)
            g = jax.grad(batch_loss)(p, *b, sub)
            return ([w - m["rate"] * gw for w, gw in zip(p, g)], key), None

        return jax.lax.scan(step, (p, key), (xb, yb))[0][0]

    steps = N // BATCH
    xb = jnp.asarray(xs[: steps * BATCH].reshape(steps, BATCH, -1))
    yb = jnp.asarray(ys[: steps * BATCH].reshape((steps, BATCH) + ys.shape[1:]))
    p = [jnp.asarray(a) for a in params(m)]
    key = jax.random.PRNGKey(0)
    jax.block_until_ready(epoch(p, xb, yb, key))  # compile
    train = steps * BATCH / best_of(lambda: jax.block_until_ready(epoch(p, xb, yb, key)))

    @jax.jit
    def infer(p, x):
        if m["steps"] is None:
            return jax.vmap(lambda x: jnp.argmin(jax.vmap(lambda k: energy(p, x, k))(jnp.arange(m["dy"]))))(x)
        return jax.vmap(lambda x: descend(p, x, jnp.zeros(m["dy"]), m["steps"]))(x)

    xa = jnp.asarray(xs)
    jax.block_until_ready(infer(p, xa))
    rows = N / best_of(lambda: jax.block_until_ready(infer(p, xa)))
    return train, rows


# ------------------------------------------------------------------------------------ PyTorch


def bench_torch(name, m, xs, ys):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    p = [torch.tensor(a, requires_grad=True) for a in params(m)]
    xt = torch.tensor(xs)
    yt = torch.tensor(ys)

    def energies(x, y):
        """Per-row energies of a batch (rows of x and y)."""
        if name == "m1":
            w, b = p
            r = x @ w.T + b - y
            return 0.5 * (r * r).sum(1)
        if name == "m2":
            w1, b1, w2, b2 = p
            r = torch.tanh(x @ w1.T + b1) @ w2.T + b2 - y
            return 0.5 * (r * r).sum(1)
        if name == "m4":
            a_, a, b_, c = p
            r = torch.tanh(x @ a_.T + a) - torch.tanh(y @ b_.T + c)
            return 0.5 * (r * r).sum(1)
        raise ValueError(name)

    def descend(x, y, steps, project=None):
        for _ in range(steps):
            y = y.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(energies(x, y).sum(), y)
            y = y - 0.1 * g
            if project is not None:
                y = project(y)
        return y.detach()

    def loss(x, y):
        if name == "digits_mlp":
            w1, b1, w2, b2 = p
            scores = torch.tanh(x @ w1.T + b1) @ w2.T + b2
            return (scores.gather(1, y[:, None])[:, 0] + torch.logsumexp(-scores, 1)).mean()
        if name != "m4":
            return energies(x, y).mean()

        def project(q):
            d = (q - y).norm(dim=1, keepdim=True)
            return torch.where(d >= 0.3, q, y + 0.3 * (q - y) / d.clamp_min(1e-300))

        neg = descend(x, project(torch.randn_like(y)), 20, project)
        return torch.clamp(0.5 + energies(x, y) - energies(x, neg), min=0).mean()

    def epoch():
        for s in range(0, N - BATCH + 1, BATCH):
            for a in p:
                a.grad = None
            loss(xt[s : s + BATCH], yt[s : s + BATCH]).backward()
            with torch.no_grad():
                for a in p:
                    a -= m["rate"] * a.grad

    train = (N // BATCH) * BATCH / best_of(epoch)

    def infer():
        if name == "digits_mlp":
            with torch.no_grad():
                w1, b1, w2, b2 = p
                return (torch.tanh(xt @ w1.T + b1) @ w2.T + b2).argmin(1)
        return descend(xt, torch.zeros(N, m["dy"], dtype=torch.float64), m["steps"])

    rows = N / best_of(infer)
    return train, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results.json"))
    ap.add_argument("--only", choices=["jax", "torch"])
    args = ap.parse_args()
    results = {"peers": {}}
    for peer, bench in [("jax", bench_jax), ("torch", bench_torch)]:
        if args.only and args.only != peer:
            continue
        try:
            module = __import__(peer)
        except ImportError:
            print(f"{peer}: not installed (benches/peers/setup.sh --torch)")
            continue
        results["peers"][peer] = {"version": module.__version__, "models": {}}
        for name, m in MODELS.items():
            xs, ys = data(m)
            train, rows = bench(name, m, xs, ys)
            results["peers"][peer]["models"][name] = {"train_samples_per_s": train, "infer_rows_per_s": rows}
            print(f"{peer} {module.__version__}: {name:10} training {train:10.0f} samples/s  inference {rows:10.0f} rows/s", flush=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
