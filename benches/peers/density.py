"""The 2-D density benchmark of issue 12 in JAX (jit, float64, one thread): an MLP energy
2 → 128 → 128 → 1 (SiLU) on eight Gaussians or two moons (examples/data/, written by
examples/data/make_2d.py), Adam 1e-3, batch 256, 3,000 steps, trained by

* pcd: persistent contrastive divergence, 10 Langevin steps (rate 0.01) per step,
  y ← y − rate ∇E + sqrt(2 rate) ε, a buffer of 10,000 chains of which each step's 256 are
  drawn, 5 % of them restarted from N(0, I); loss E(y) − E(ȳ) + α (E(y)² + E(ȳ)²), α = 0.1;
* dsm: denoising score matching, σ = 0.1: ½ σ² ‖∇_y E(ỹ) − (ỹ − y)/σ²‖², ỹ = y + σ ε;

and measured by the test set's NLL with log Z by a 200 × 200 midpoint grid on [−4, 4]².
Prints the test NLL and the wall time from process start (`/usr/bin/time` around the script
gives the same figure with the interpreter's start-up).

Also `--sampler`: Langevin and HMC (5 leapfrog steps) chain-steps/s with 1,024 chains on the
same MLP with random weights, `jit(lax.scan)`.

Usage: python density.py [--data eight_gaussians|two_moons] [--loss pcd|dsm] [--sampler]
"""
import time

START = time.perf_counter()

import argparse
import csv
import os
import sys

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "examples", "data")
STEPS, BATCH, RATE, HIDDEN = 3000, 256, 1e-3, 128


def read(name):
    with open(os.path.join(DATA, name)) as f:
        rows = list(csv.reader(f))
    return np.array([[float(c) for c in r[:2]] for r in rows[1:]])


def init(rng):
    def layer(i, o):
        return [rng.normal(0, 1 / np.sqrt(i), (o, i)), np.zeros(o)]

    return layer(2, HIDDEN) + layer(HIDDEN, HIDDEN) + layer(HIDDEN, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="eight_gaussians", choices=["eight_gaussians", "two_moons"])
    ap.add_argument("--loss", default="pcd", choices=["pcd", "dsm"])
    ap.add_argument("--sampler", action="store_true")
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def energy(p, y):
        w1, b1, w2, b2, w3, b3 = p
        h = jax.nn.silu(w1 @ y + b1)
        h = jax.nn.silu(w2 @ h + b2)
        return (w3 @ h + b3)[0]

    energies = jax.vmap(energy, (None, 0))
    score = jax.vmap(jax.grad(energy, argnums=1), (None, 0))

    def langevin(p, y, key, steps, rate=0.01):
        def body(y, k):
            return y - rate * score(p, y) + jnp.sqrt(2 * rate) * jax.random.normal(k, y.shape), None

        return jax.lax.scan(body, y, jax.random.split(key, steps))[0]

    if args.sampler:
        p = [jnp.asarray(a) for a in init(np.random.default_rng(0))]
        y0 = jnp.asarray(np.random.default_rng(1).normal(size=(1024, 2)))
        run = jax.jit(lambda y, k: langevin(p, y, k, 100))
        jax.block_until_ready(run(y0, jax.random.PRNGKey(0)))
        t = time.perf_counter()
        jax.block_until_ready(run(y0, jax.random.PRNGKey(1)))
        print(f"jax {jax.__version__}: langevin {1024 * 100 / (time.perf_counter() - t):.0f} chain-steps/s (1,024 chains)")

        def hmc(y, key, steps=100, leapfrog=5, eps=0.05):
            def step(y, k):
                k1, k2 = jax.random.split(k)
                m = jax.random.normal(k1, y.shape)
                q, r = y, m - 0.5 * eps * score(p, y)
                for i in range(leapfrog):
                    q = q + eps * r
                    if i < leapfrog - 1:
                        r = r - eps * score(p, q)
                r = r - 0.5 * eps * score(p, q)
                h0 = energies(p, y) + 0.5 * (m * m).sum(1)
                h1 = energies(p, q) + 0.5 * (r * r).sum(1)
                accept = jnp.log(jax.random.uniform(k2, h0.shape)) < h0 - h1
                return jnp.where(accept[:, None], q, y), None

            return jax.lax.scan(step, y, jax.random.split(key, steps))[0]

        run = jax.jit(hmc)
        jax.block_until_ready(run(y0, jax.random.PRNGKey(0)))
        t = time.perf_counter()
        jax.block_until_ready(run(y0, jax.random.PRNGKey(1)))
        print(f"jax {jax.__version__}: hmc(5 leapfrog) {1024 * 100 / (time.perf_counter() - t):.0f} chain-steps/s (1,024 chains)")
        return 0

    train = jnp.asarray(read(f"{args.data}_train.csv"))
    test = jnp.asarray(read(f"{args.data}_test.csv"))
    rng = np.random.default_rng(0)
    p = [jnp.asarray(a) for a in init(rng)]
    adam = [(jnp.zeros_like(a), jnp.zeros_like(a)) for a in p]

    def loss(p, yb, key, buffer):
        if args.loss == "dsm":
            sigma = 0.1
            noisy = yb + sigma * jax.random.normal(key, yb.shape)
            d = score(p, noisy) - (noisy - yb) / sigma**2
            return 0.5 * sigma**2 * jnp.mean((d * d).sum(1))
        neg = jax.lax.stop_gradient(buffer)
        e, en = energies(p, yb), energies(p, neg)
        return jnp.mean(e - en + 0.1 * (e * e + en * en))

    @jax.jit
    def step(state, t):
        p, adam, key, chains = state
        key, kb, kr, ku, kn, kl, kd = jax.random.split(key, 7)
        idx = jax.random.randint(kb, (BATCH,), 0, train.shape[0])
        yb = train[idx]
        pick = jax.random.randint(kr, (BATCH,), 0, chains.shape[0])
        start = chains[pick]
        restart = jax.random.uniform(ku, (BATCH, 1)) < 0.05
        start = jnp.where(restart, jax.random.normal(kn, start.shape), start)
        neg = langevin(p, start, kl, 10) if args.loss == "pcd" else start
        chains = chains.at[pick].set(neg)
        g = jax.grad(loss)(p, yb, kd, neg)
        new_p, new_adam = [], []
        for w, gw, (m, v) in zip(p, g, adam):
            m = 0.9 * m + 0.1 * gw
            v = 0.999 * v + 0.001 * gw * gw
            mh, vh = m / (1 - 0.9 ** (t + 1)), v / (1 - 0.999 ** (t + 1))
            new_p.append(w - RATE * mh / (jnp.sqrt(vh) + 1e-8))
            new_adam.append((m, v))
        return (new_p, new_adam, key, chains), None

    chains = jnp.asarray(rng.normal(size=(10_000, 2)))
    state = (p, adam, jax.random.PRNGKey(0), chains)
    for t in range(STEPS):
        state, _ = step(state, t)
    p = jax.block_until_ready(state[0])

    n = 200
    c = -4 + (np.arange(n) + 0.5) * 8 / n
    grid = jnp.asarray(np.stack(np.meshgrid(c, c), -1).reshape(-1, 2))
    log_z = jax.nn.logsumexp(-energies(p, grid)) + 2 * np.log(8 / n)
    nll = float(jnp.mean(energies(p, test)) + log_z)
    print(f"jax {jax.__version__}: {args.data} {args.loss}: test NLL {nll:.3f} nats, {time.perf_counter() - START:.1f} s from start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
