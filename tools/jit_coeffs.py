#!/usr/bin/env python3
"""Polynomial coefficients for the inline transcendentals in src/jit/math.rs.

Each approximation is a Chebyshev least-squares fit (mpmath.chebyfit, near-minimax) of a
smooth, well-conditioned helper function at 60 significant digits, printed as Rust f64
literals (shortest round-trip repr of the double nearest each coefficient). Re-running this
script reproduces the constants; the error printed is that of the fit in exact arithmetic,
the f64 rounding of the evaluation is measured by the ulp sweeps in tests/jit_kernels.rs.

    exp:  e^r = 1 + r + r^2 P(r),            r in [-ln2/2, ln2/2]
    tanh: tanh(x) = x + x^3 T(x^2),          x in [0, TANH_SMALL]
    log:  log(1+f) = f - f^2/2 + s(f^2/2 + z Q(z)),  s = f/(2+f), z = s^2,
          f in [sqrt(2)/2 - 1, sqrt(2) - 1]; z Q(z) = sum_k 2 z^k / (2k + 1)
"""
import mpmath as mp

mp.mp.dps = 60


def fit(name, f, a, b, degree):
    coeffs, err = mp.chebyfit(f, [a, b], degree + 1, error=True)
    # chebyfit returns the highest-degree coefficient first.
    print(f"// {name}: degree {degree} on [{mp.nstr(a, 8)}, {mp.nstr(b, 8)}], fit error {mp.nstr(err, 3)}")
    print(f"const {name}: [f64; {degree + 1}] = [")
    for c in reversed(coeffs):
        print(f"    {float(c)!r},")
    print("];")


def p_exp(r):
    if abs(r) < mp.mpf("1e-20"):
        return mp.mpf(1) / 2 + r / 6
    return (mp.exp(r) - 1 - r) / (r * r)


TANH_SMALL = mp.mpf("0.625")


def t_tanh(u):
    if u < mp.mpf("1e-30"):
        return -mp.mpf(1) / 3 + 2 * u / 15
    x = mp.sqrt(u)
    return (mp.tanh(x) - x) / (x * u)


def q_log(z):
    # Q(z) = sum_{k>=1} 2 z^(k-1) / (2k+1) = (atanh(s)/s - 1) * 2 / z with s = sqrt(z)
    if z < mp.mpf("1e-30"):
        return mp.mpf(2) / 3 + 2 * z / 5
    s = mp.sqrt(z)
    return 2 * (mp.atanh(s) / s - 1) / z


if __name__ == "__main__":
    import sys
    ln2 = mp.log(2)
    deg = dict(a.split("=") for a in sys.argv[1:])
    fit("EXP_P", p_exp, -ln2 / 2, ln2 / 2, int(deg.get("exp", 11)))
    fit("TANH_T", t_tanh, mp.mpf(0), TANH_SMALL**2, int(deg.get("tanh", 11)))
    smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
    fit("LOG_Q", q_log, mp.mpf(0), smax**2, int(deg.get("log", 6)))
