"""Class probabilities on iris: ebmc's examples/iris_proba.ebm against scikit-learn's
`LogisticRegression().predict_proba` on exactly the same train/test split.

For each seed, runs `ebmc run examples/iris_proba.ebm --seed S --out P.csv --metrics M.json`,
reads which rows ebmc held out (the `line` column of P.csv) and its probabilities (the p_0,
p_1, p_2 columns), fits scikit-learn's logistic regression (defaults: L2, C = 1, lbfgs) on
the other rows with the features standardized by training statistics (as `standardize x`
does), and scores both on the held-out rows with one definition of each metric:

* log loss: mean of −ln P(true class), sklearn.metrics.log_loss;
* ECE: 15 equal-width bins of the top class's probability, Σ_b (n_b/N) |acc_b − conf_b|.

ebmc's figures are recomputed here from its p_ columns and checked against the log_loss and
ece of its metrics file, so the two columns of the table are measured the same way.

    cargo build --release
    benches/peers/.venv/bin/python benches/peers/iris_proba.py target/release/ebmc

Needs numpy and scikit-learn (benches/peers/setup.sh installs them). Not part of cargo test.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "iris_proba.ebm")
DATA = os.path.join(ROOT, "examples", "data", "iris.csv")
SEEDS = [1, 2, 3, 4, 5]
BINS = 15


def ece(p, y):
    """Expected calibration error of the top class, BINS equal-width bins."""
    top = p.argmax(axis=1)
    conf = p[np.arange(len(y)), top]
    bins = np.minimum((conf * BINS).astype(int), BINS - 1)
    total = 0.0
    for b in range(BINS):
        m = bins == b
        if m.any():
            total += abs((top[m] == y[m]).sum() - conf[m].sum())
    return total / len(y)


def read_data():
    with open(DATA) as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[c]) for c in list(r)[:4]] for r in rows])
    y = np.array([int(r["species"]) for r in rows])
    return x, y


def run_ebmc(ebmc, seed, tmp):
    out = os.path.join(tmp, f"p{seed}.csv")
    metrics = os.path.join(tmp, f"m{seed}.json")
    subprocess.run(
        [ebmc, "run", EXAMPLE, "--seed", str(seed), "--out", out, "--metrics", metrics, "--quiet"],
        check=True,
    )
    with open(out) as f:
        rows = list(csv.DictReader(f))
    lines = np.array([int(r["line"]) for r in rows])
    p = np.array([[float(r[f"p_{k}"]) for k in range(3)] for r in rows])
    with open(metrics) as f:
        m = json.load(f)["test"]
    return lines, p, m


def main():
    ebmc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "ebmc")
    x, y = read_data()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            lines, p_ebmc, m = run_ebmc(ebmc, seed, tmp)
            test = lines - 2  # line 1 is the header
            train = np.setdiff1d(np.arange(len(y)), test)
            ll_e, ece_e = log_loss(y[test], p_ebmc, labels=[0, 1, 2]), ece(p_ebmc, y[test])
            # The metrics file's figures are the same quantities (up to the CSV's rounding).
            assert abs(ll_e - m["log_loss"]) < 1e-9, (ll_e, m["log_loss"])
            assert abs(ece_e - m["ece"]) < 1e-9, (ece_e, m["ece"])
            scaler = StandardScaler().fit(x[train])
            clf = LogisticRegression().fit(scaler.transform(x[train]), y[train])
            p_sk = clf.predict_proba(scaler.transform(x[test]))
            results.append(
                (
                    seed,
                    accuracy_score(y[test], p_ebmc.argmax(1)),
                    ll_e,
                    ece_e,
                    accuracy_score(y[test], p_sk.argmax(1)),
                    log_loss(y[test], p_sk, labels=[0, 1, 2]),
                    ece(p_sk, y[test]),
                )
            )
    print("| seed | ebmc accuracy | ebmc log loss | ebmc ECE | sklearn accuracy | sklearn log loss | sklearn ECE |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print("| {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |".format(*r))
    mean = np.mean(np.array([r[1:] for r in results]), axis=0)
    print("| mean | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |".format(*mean))


if __name__ == "__main__":
    main()
