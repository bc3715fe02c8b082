"""Writes digits_binary.csv, the binarised digits of examples/digits_rbm.ebm and
benches/peers/rbm.py: each 8×8 image of digits.csv (pixel values 0–16) with pixel > 8 as +1
and every other pixel as −1, in columns v0..v63, one row per image, rows in digits.csv's order.

    python3 make_digits_binary.py          # from examples/data/
"""

import csv
import os

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "digits.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
with open(os.path.join(here, "digits_binary.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow([f"v{i}" for i in range(64)])
    for r in rows:
        w.writerow([1 if int(r[f"p{i}"]) > 8 else -1 for i in range(64)])
