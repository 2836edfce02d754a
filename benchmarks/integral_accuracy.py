"""How close the predictions' integrals (xl_crm.core.predict) come to the closed form of
E[purchases | alive] in many digits (mpmath's 2F1, its precision raised until two agree),
on random BG/NBD models and customers: the Gauss-Jacobi integral inside its range
(:func:`~xl_crm.core.predict.integral_nodes`), the graded integral on every case.

    python benchmarks/integral_accuracy.py [cases] [seed]    # needs mpmath (xl_crm[test])

Prints the number of cases and the worst relative errors with their parameters.
"""

from __future__ import annotations

import math
import sys

import mpmath
import numpy as np

from xl_crm.core.predict import (
    BGNBD,
    _expected_by_graded,
    _expected_by_quadrature,
    integral_nodes,
)


def exact(model: BGNBD, x: float, age: float, days: float) -> float | None:
    """(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] at 40,
    80 and 160 digits until two agree to 1e-15 (None if they never do)."""
    before = None
    for digits in (40, 80, 160):
        with mpmath.workdps(digits):
            r, alpha, a, b, x_, age_, t = (mpmath.mpf(v) for v in (
                model.r, model.alpha, model.a, model.b, x, age, days))
            z = t / (alpha + age_ + t)
            f = mpmath.hyp2f1(r + x_, b + x_, a + b + x_ - 1, z)
            value = (a + b + x_ - 1) / (a - 1) * (1 - ((alpha + age_) / (alpha + age_ + t))
                                                  ** (r + x_) * f)
        if before is not None and abs(value - before) <= 1e-15 * abs(value):
            return float(value)
        before = value
    return None


def main(cases: int = 1000, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)

    def log_uniform(low: float, high: float) -> float:
        return math.exp(rng.uniform(math.log(low), math.log(high)))

    inside, graded = [], []
    for _ in range(cases):
        model = BGNBD(log_uniform(0.01, 50), log_uniform(0.1, 1000), log_uniform(0.02, 50),
                      log_uniform(0.02, 200), 0.0, 1)
        if abs(model.a - 1) < 1e-3:
            continue
        x = float(rng.choice([0, 1, 2, 3, 5, 8, 13, 30, 60, 120, 300, 1000]))
        age = float(rng.choice([0, 1, 10, 60, 200, 700, 2000, 5000]))
        days = float(rng.choice([0.5, 1, 7, 30.4375, 91.3, 182.6, 365, 730, 1826, 3650]))
        truth = exact(model, x, age, days)
        if truth is None or not truth > 0:
            continue
        case = (model, x, age, days)
        scale = (model.r + x + 4) * days / (model.alpha + age)
        if integral_nodes(np.array([scale]))[0]:
            ours = _expected_by_quadrature(model, [days], [x], [age])[0]
            inside.append((abs(ours - truth) / truth, *case))
        ours = _expected_by_graded(model, [days], [x], [age])[0]
        graded.append((abs(ours - truth) / truth, *case))
    for name, rows in (("Gauss-Jacobi, inside its range", inside),
                       ("graded, every case", graded)):
        rows.sort(key=lambda row: row[0], reverse=True)
        print(f"{name}: {len(rows)} cases; the worst relative errors:")
        for error, m, x, age, days in rows[:3]:
            print(f"  {error:.2e}  r={m.r:.3g} alpha={m.alpha:.3g} a={m.a:.3g} b={m.b:.3g} "
                  f"x={x:g} T={age:g} t={days:g}")


if __name__ == "__main__":
    main(*(int(v) for v in sys.argv[1:3]))
