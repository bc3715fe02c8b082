"""ebmc against scikit-learn on exactly the same train/test splits.

For each real data set and seed, runs `ebmc run EXAMPLE --seed S --out P.csv --metrics M.json`,
reads which rows ebmc held out for testing (the `line` column of P.csv), fits scikit-learn's
logistic or linear regression on the other rows (features standardized with training
statistics, as `standardize x` does) and scores both on the held-out rows:

    cargo build --release
    python3 examples/data/compare_sklearn.py target/release/ebmc

Prints a Markdown table: mean [min–max] over the seeds of the test accuracy (R² for diabetes),
with ebmc's training figure beside it. Needs numpy and scikit-learn.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.dirname(HERE)
SEEDS = [1, 2, 3, 4, 5]

# (example, data file, label column, metric, scikit-learn model)
CASES = [
    ("digits.ebm", "digits.csv", "digit", "accuracy", "logistic"),
    ("binary.ebm", "breast_cancer.csv", "benign", "accuracy", "logistic"),
    ("iris.ebm", "iris.csv", "species", "accuracy", "logistic"),
    ("wine.ebm", "wine.csv", "cultivar", "accuracy", "logistic"),
    ("regression.ebm", "diabetes.csv", "progression", "r2", "linear"),
]


def read(path, label):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    j = header.index(label)
    x = np.array([[float(v) for k, v in enumerate(r) if k != j] for r in body])
    y = np.array([float(r[j]) for r in body])
    return x, y


def sklearn_score(x, y, test_rows, metric, kind):
    mask = np.zeros(len(y), dtype=bool)
    mask[test_rows] = True
    scaler = StandardScaler().fit(x[~mask])
    xtr, xte = scaler.transform(x[~mask]), scaler.transform(x[mask])
    if kind == "logistic":
        model = LogisticRegression(max_iter=5000).fit(xtr, y[~mask])
        return accuracy_score(y[mask], model.predict(xte))
    model = LinearRegression().fit(xtr, y[~mask])
    return r2_score(y[mask], model.predict(xte))


def summary(xs):
    return f"{np.mean(xs):.3f} [{min(xs):.3f}–{max(xs):.3f}]"


def main():
    ebmc = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/ebmc")
    print("| data set | metric | test rows | ebmc train | ebmc test | scikit-learn test |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        out, met = os.path.join(tmp, "p.csv"), os.path.join(tmp, "m.json")
        for example, data, label, metric, kind in CASES:
            x, y = read(os.path.join(HERE, data), label)
            ours_train, ours, theirs = [], [], []
            for seed in SEEDS:
                subprocess.run(
                    [ebmc, "run", os.path.join(EXAMPLES, example), "--seed", str(seed),
                     "--out", out, "--metrics", met, "--quiet"],
                    check=True,
                )
                with open(met) as f:
                    m = json.load(f)
                with open(out, newline="") as f:
                    # `line` is the 1-based line of the file; line 1 is the header.
                    test_rows = [int(r["line"]) - 2 for r in csv.DictReader(f)]
                ours_train.append(m["train"][metric])
                ours.append(m["test"][metric])
                theirs.append(sklearn_score(x, y, test_rows, metric, kind))
            print(f"| {data} | {metric} | {len(test_rows)} | {summary(ours_train)} "
                  f"| {summary(ours)} | {summary(theirs)} |")


if __name__ == "__main__":
    main()
