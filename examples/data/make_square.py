"""Writes square.csv: the implicit-regression data set of LeCun et al. (2006), section 6.

Rows (x, y) with x drawn uniformly from [-1, 1] and y = x * x exactly (no noise), from a
fixed seed, so the file is the same on every run and every Python 3:

    python3 examples/data/make_square.py > examples/data/square.csv

x is written with 6 decimals and y is the square of the written x, so the file itself
satisfies y = x^2 to the precision printed.
"""

import random

ROWS = 400
SEED = 2006


def main() -> None:
    rng = random.Random(SEED)
    print("x,y")
    for _ in range(ROWS):
        x = round(rng.uniform(-1.0, 1.0), 6)
        print(f"{x:.6f},{x * x:.12f}")


if __name__ == "__main__":
    main()
