"""Writes the 2-D density data sets of the density examples and of benches/peers/density*.py:

* eight_gaussians_{train,test}.csv: an equal mixture of eight Gaussians, means on the circle
  of radius 2 at angles k·π/4 (k = 0..7), standard deviation 0.2 in each coordinate;
* two_moons_{train,test}.csv: scikit-learn's two interleaving half circles (upper
  (cos t, sin t), lower (1 − cos t, 0.5 − sin t), t uniform in [0, π]) with Gaussian noise of
  standard deviation 0.1, centred by (−0.5, −0.25) and scaled by 2 so that both lie inside
  [−4, 4]², the grid of the examples' `partition by grid`.

10,000 training rows and 5,000 test rows each, columns `y0,y1`, from a fixed seed (numpy's
PCG64, so the files are the same on every run):

    python3 examples/data/make_2d.py

The NLL of the true eight-Gaussians density on its test file is printed (Monte Carlo over
the test rows): the floor a model's test NLL approaches.
"""

import os

import numpy as np

SEED = 2026
TRAIN, TEST = 10_000, 5_000
HERE = os.path.dirname(os.path.abspath(__file__))


def eight_gaussians(rng, n):
    k = rng.integers(0, 8, n)
    angle = k * np.pi / 4
    means = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return means + 0.2 * rng.standard_normal((n, 2))


def eight_gaussians_nll(y):
    angle = np.arange(8) * np.pi / 4
    means = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    d2 = ((y[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    log_comp = -d2 / (2 * 0.04) - np.log(2 * np.pi * 0.04)
    m = log_comp.max(1)
    log_p = m + np.log(np.exp(log_comp - m[:, None]).mean(1))
    return -log_p.mean()


def two_moons(rng, n):
    upper = rng.random(n) < 0.5
    t = rng.uniform(0, np.pi, n)
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x, y], axis=1) + 0.1 * rng.standard_normal((n, 2))
    return 2.0 * (pts - np.array([0.5, 0.25]))


def write(name, rows):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("y0,y1\n")
        for a, b in rows:
            f.write(f"{a:.6f},{b:.6f}\n")


def main():
    rng = np.random.default_rng(SEED)
    for name, make in [("eight_gaussians", eight_gaussians), ("two_moons", two_moons)]:
        train, test = make(rng, TRAIN), make(rng, TEST)
        write(f"{name}_train.csv", train)
        write(f"{name}_test.csv", test)
        if name == "eight_gaussians":
            print(f"eight_gaussians: true-density NLL on the test rows {eight_gaussians_nll(test):.4f} nats")


if __name__ == "__main__":
    main()
