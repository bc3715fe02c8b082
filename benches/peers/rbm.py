"""The peer of examples/digits_rbm.ebm: scikit-learn's BernoulliRBM on the same binarised digits
(examples/data/digits_binary.csv), the same held-out 20 %, hidden size and epochs (scikit-learn's
own optimiser settings otherwise), judged by the same pseudo-log-likelihood.

    benches/peers/.venv/bin/python benches/peers/rbm.py target/release/ebmc [--seeds 5]

It runs `ebmc run examples/digits_rbm.ebm --seed S --out … --save …` for each seed: the `line`
column of --out names ebmc's held-out rows (its `split 0.8` shuffles with the seed), so
scikit-learn trains on exactly ebmc's training rows and both are scored on the same test rows.

Units: ebmc's spins are ±1, scikit-learn's units 0/1 (s = 2u − 1). An RBM energy in one unit
system is an RBM energy in the other — −uᵀa − gᵀc − uᵀWg with u = (s+1)/2, g = (t+1)/2 is
−sᵀ(a/2 + W1/4) − tᵀ(c/2 + Wᵀ1/4) − sᵀ(W/4)t + const — so the two define the same family of
distributions over images and the same P(v), and any likelihood-type score compares them.

Scores, nats per image, mean over test images:
* `pll_sklearn_def`: scikit-learn's `score_samples` — one coordinate i drawn per image, flipped to
  v̂, n · log σ(F(v̂) − F(v)), n = 64 — what ebmc's `pll` metric computes (its own draws);
* `ebmc_nll_ais`: ebmc's test NLL with log Z by `partition by ais` (and its standard error);
  scikit-learn has no partition function estimate to set beside it;
* `pll_exact`: the same estimator's expectation over i, Σ_i log σ(F(v̂_i) − F(v)), which has
  no flip noise. For ebmc it is computed here from the saved weights (free energy of the ±1
  RBM, F(v) = −b·v − Σ_j log 2cosh(c_j + (vᵀW)_j)).
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.neural_network import BernoulliRBM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "digits_rbm.ebm")
DATA = os.path.join(ROOT, "examples", "data", "digits_binary.csv")


def model_settings():
    """Hidden size and epochs, read from the example (one source of truth)."""
    text = open(MODEL).read()

    def grab(key, after):
        at = text.index(after)
        rest = text[at:]
        i = rest.index(key + " = ") + len(key) + 3
        j = i
        while j < len(rest) and (rest[j].isdigit() or rest[j] == "."):
            j += 1
        return float(rest[i:j])

    return {
        "hidden": int(grab("H", "const H")),
        "epochs": int(grab("epochs", "train by")),
    }


def softplus(x):
    return np.logaddexp(0.0, x)


def free_energy_pm(v, w, b, c):
    """F(v) of ebmc's ±1 RBM, E = −b·v − c·h − vᵀWh, h summed out."""
    a = v @ w + c
    return -(v @ b) - np.sum(np.logaddexp(a, -a), axis=1)


def pll_exact(free, v):
    """Σ_i log σ(F(v̂_i) − F(v)) per image, v in the units `free` takes (flip = negate)."""
    f = free(v)
    total = np.zeros(len(v))
    for i in range(v.shape[1]):
        flipped = v.copy()
        flipped[:, i] = -flipped[:, i]
        total += -softplus(f - free(flipped))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ebmc", help="path to the ebmc binary")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    cfg = model_settings()
    with open(DATA) as f:
        rows = list(csv.reader(f))[1:]
    x = np.array(rows, dtype=float)  # ±1
    results = []
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            out, weights = os.path.join(tmp, "out.csv"), os.path.join(tmp, "w.json")
            t0 = time.time()
            run = subprocess.run(
                [args.ebmc, "run", MODEL, "--seed", str(seed), "--out", out, "--save", weights,
                 "--threads", "1"],
                capture_output=True, text=True, check=True,
            )
            ebmc_time = time.time() - t0
            table = run.stdout.strip().splitlines()
            header = table[-3].split()
            test = table[-1].split()
            ebmc_pll = float(test[1 + header.index("pll")])
            ebmc_nll = float(test[1 + header.index("nll")]) if "nll" in header else float("nan")
            ebmc_nll_se = (
                float(test[1 + header.index("nll_se")]) if "nll_se" in header else float("nan")
            )
            with open(out) as f:
                lines = [int(r[0]) for r in list(csv.reader(f))[1:]]
            w = json.load(open(weights))
        test_idx = np.array(lines) - 2  # line 2 is the first data row
        mask = np.ones(len(x), bool)
        mask[test_idx] = False
        train, held = x[mask], x[test_idx]
        W, b, c = (np.array(w[k]) for k in ("W", "b", "c"))
        ebmc_exact = pll_exact(lambda v: free_energy_pm(v, W, b, c), held).mean()

        t0 = time.time()
        # scikit-learn's own defaults otherwise (SGD at 0.1, batches of 10, persistent
        # chains): 0.1 gave its best held-out PLL among 0.01, 0.02, 0.05, 0.1 and 0.2.
        rbm = BernoulliRBM(n_components=cfg["hidden"], n_iter=cfg["epochs"], random_state=seed)
        rbm.fit((train + 1) / 2)
        sk_time = time.time() - t0
        u = (held + 1) / 2
        sk_def = rbm.score_samples(u).mean()
        # Flip in 0/1 units is u → 1 − u; in ±1 units negation.
        sk_exact = pll_exact(lambda v: rbm._free_energy((v + 1) / 2), held).mean()
        r = {
            "seed": seed, "test_rows": len(held),
            "ebmc_pll": ebmc_pll, "ebmc_pll_exact": ebmc_exact, "ebmc_wall_s": ebmc_time,
            "ebmc_nll_ais": ebmc_nll, "ebmc_nll_se": ebmc_nll_se,
            "sklearn_pll": sk_def, "sklearn_pll_exact": sk_exact, "sklearn_fit_s": sk_time,
        }
        results.append(r)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))
        sys.stdout.flush()
    keys = ["ebmc_pll", "ebmc_pll_exact", "sklearn_pll", "sklearn_pll_exact", "ebmc_nll_ais",
            "ebmc_nll_se", "ebmc_wall_s", "sklearn_fit_s"]
    summary = {k: [round(float(np.mean([r[k] for r in results])), 3),
                   round(float(np.std([r[k] for r in results], ddof=1)) if len(results) > 1 else 0.0, 3)]
               for k in keys}
    print("mean, sd over seeds:", json.dumps(summary))
    print("settings:", json.dumps(cfg))


if __name__ == "__main__":
    main()
