"""The M2 model of `benches/train.rs` in JAX (jit, float64) and, when installed, PyTorch
(float64): one SGD epoch (batch 32) and inference of y* by 10 descent steps (rate 0.1) over
10,000 rows, one thread. Prints samples/s; compare with `cargo bench --bench train` run on
the same machine (see run.sh, which runs both).

E(x, y) = 0.5 * ||W2 tanh(W1 x + b1) + b2 - y||^2, x in R^784, y in R^10, 256 hidden.
"""
import os
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

N, DX, DH, DY, BATCH, RATE = 10_000, 784, 256, 10, 32, 0.01


def data():
    rng = np.random.default_rng(7)
    t = rng.uniform(-1, 1, (DY, DX)) / np.sqrt(DX)
    xs = rng.uniform(-1, 1, (N, DX))
    ys = xs @ t.T + 0.01 * rng.uniform(-1, 1, (N, DY))
    return xs, ys


def params():
    rng = np.random.default_rng(3)
    return [rng.normal(0, 0.05, (DH, DX)), np.zeros(DH), rng.normal(0, 0.05, (DY, DH)), np.zeros(DY)]


def best_of(f, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_jax(xs, ys):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def energy(p, x, y):
        w1, b1, w2, b2 = p
        r = w2 @ jnp.tanh(w1 @ x + b1) + b2 - y
        return 0.5 * jnp.dot(r, r)

    def batch_loss(p, xb, yb):
        return jnp.mean(jax.vmap(energy, (None, 0, 0))(p, xb, yb))

    @jax.jit
    def epoch(p, xb, yb):
        def step(p, b):
            g = jax.grad(batch_loss)(p, *b)
            return [w - RATE * gw for w, gw in zip(p, g)], None

        p, _ = jax.lax.scan(step, p, (xb, yb))
        return p

    steps = N // BATCH
    xb = jnp.asarray(xs[: steps * BATCH].reshape(steps, BATCH, DX))
    yb = jnp.asarray(ys[: steps * BATCH].reshape(steps, BATCH, DY))
    p = [jnp.asarray(a) for a in params()]
    jax.block_until_ready(epoch(p, xb, yb))  # compile
    train = steps * BATCH / best_of(lambda: jax.block_until_ready(epoch(p, xb, yb)))

    grad_y = jax.grad(energy, argnums=2)

    @jax.jit
    def infer(p, x):
        def one(x):
            y = jnp.zeros(DY)
            for _ in range(10):
                y = y - 0.1 * grad_y(p, x, y)
            return y

        return jax.vmap(one)(x)

    xa = jnp.asarray(xs)
    jax.block_until_ready(infer(p, xa))
    rows = N / best_of(lambda: jax.block_until_ready(infer(p, xa)))
    return train, rows


def bench_torch(xs, ys):
    import torch

    torch.set_num_threads(1)
    p = [torch.tensor(a, requires_grad=True) for a in params()]
    xt, yt = torch.tensor(xs), torch.tensor(ys)

    def epoch():
        for s in range(0, N - BATCH + 1, BATCH):
            w1, b1, w2, b2 = p
            r = torch.tanh(xt[s : s + BATCH] @ w1.T + b1) @ w2.T + b2 - yt[s : s + BATCH]
            loss = 0.5 * (r * r).sum(1).mean()
            for a in p:
                a.grad = None
            loss.backward()
            with torch.no_grad():
                for a in p:
                    a -= RATE * a.grad

    return (N // BATCH) * BATCH / best_of(epoch)


def main():
    xs, ys = data()
    train, rows = bench_jax(xs, ys)
    print(f"jax {__import__('jax').__version__}: M2 training {train:.0f} samples/s, inference {rows:.0f} rows/s")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch: not installed (benches/peers/setup.sh --torch)")
        return 0
    print(f"torch {torch.__version__}: M2 training {bench_torch(xs, ys):.0f} samples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
