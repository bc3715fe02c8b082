"""The 2-D density benchmark of issue 12 with TorchEBM (PyTorch, float64, one thread): the same
task as density.py (read its docstring) with the library's own pieces — `LangevinDynamics`
(step 0.01, noise scale 1), `ContrastiveDivergence` (k = 10, persistent buffer of 10,000,
5 % restarts, energy regulariser 0.1) or `DenoisingScoreMatching` (σ = 0.1) — Adam 1e-3,
batch 256, 3,000 steps, and the test NLL with log Z by the 200 × 200 grid on [−4, 4]².

`--sampler`: `LangevinDynamics` and `HamiltonianMonteCarlo` (5 leapfrog steps, step 0.05)
chain-steps/s with 1,024 chains on the same MLP with its initial weights.

Usage: python density_torchebm.py [--data eight_gaussians|two_moons] [--loss pcd|dsm] [--sampler]
"""
import time

START = time.perf_counter()

import argparse
import csv
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from torch import nn

from torchebm.core import BaseModel
from torchebm.losses import ContrastiveDivergence, DenoisingScoreMatching
from torchebm.samplers import HamiltonianMonteCarlo, LangevinDynamics

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "examples", "data")
STEPS, BATCH = 3000, 256


class Mlp(BaseModel):
    def __init__(self):
        super().__init__(dtype=torch.float64)
        self.net = nn.Sequential(
            nn.Linear(2, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 1)
        ).double()

    def forward(self, x):
        return self.net(x).squeeze(-1)


def read(name):
    with open(os.path.join(DATA, name)) as f:
        rows = list(csv.reader(f))
    return torch.tensor([[float(c) for c in r[:2]] for r in rows[1:]], dtype=torch.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="eight_gaussians", choices=["eight_gaussians", "two_moons"])
    ap.add_argument("--loss", default="pcd", choices=["pcd", "dsm"])
    ap.add_argument("--sampler", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Mlp()
    version = __import__("torchebm").__version__

    if args.sampler:
        y0 = torch.randn(1024, 2, dtype=torch.float64)
        lang = LangevinDynamics(model, step_size=0.01, noise_scale=1.0, dtype=torch.float64)
        lang.sample(x=y0, n_steps=5)
        t = time.perf_counter()
        lang.sample(x=y0, n_steps=100)
        print(f"torchebm {version}: langevin {1024 * 100 / (time.perf_counter() - t):.0f} chain-steps/s (1,024 chains)")
        hmc = HamiltonianMonteCarlo(model, step_size=0.05, n_leapfrog_steps=5, dtype=torch.float64)
        hmc.sample(x=y0, n_steps=2)
        t = time.perf_counter()
        hmc.sample(x=y0, n_steps=20)
        print(f"torchebm {version}: hmc(5 leapfrog) {1024 * 20 / (time.perf_counter() - t):.0f} chain-steps/s (1,024 chains)")
        return 0

    train = read(f"{args.data}_train.csv")
    test = read(f"{args.data}_test.csv")
    if args.loss == "pcd":
        sampler = LangevinDynamics(model, step_size=0.01, noise_scale=1.0, dtype=torch.float64)
        loss_fn = ContrastiveDivergence(
            model, sampler, k_steps=10, persistent=True, buffer_size=10_000,
            new_sample_ratio=0.05, energy_reg_weight=0.1, dtype=torch.float64,
        )
    else:
        loss_fn = DenoisingScoreMatching(model, noise_scale=0.1, dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(STEPS):
        batch = train[torch.randint(0, train.shape[0], (BATCH,))]
        out = loss_fn(batch)
        loss = out[0] if isinstance(out, tuple) else out
        opt.zero_grad()
        loss.backward()
        opt.step()

    n = 200
    c = -4 + (torch.arange(n, dtype=torch.float64) + 0.5) * 8 / n
    grid = torch.stack(torch.meshgrid(c, c, indexing="xy"), -1).reshape(-1, 2)
    with torch.no_grad():
        log_z = torch.logsumexp(-model(grid), 0) + 2 * np.log(8 / n)
        nll = float(model(test).mean() + log_z)
    print(f"torchebm {version}: {args.data} {args.loss}: test NLL {nll:.3f} nats, {time.perf_counter() - START:.1f} s from start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
