"""How close the predictions' Gauss-Jacobi integral (xl_crm.core.predict) comes to the
closed form of E[purchases | alive] in 40 digits (mpmath's 2F1), on random BG/NBD models
and customers inside the integral's range (:func:`~xl_crm.core.predict.integral_nodes`).

    python benchmarks/integral_accuracy.py [cases] [seed]    # needs mpmath (xl_crm[test])

Prints the number of cases and the worst relative errors with their parameters.
"""

from __future__ import annotations

import math
import sys

import mpmath
import numpy as np

from xl_crm.core.predict import BGNBD, _expected_by_quadrature, integral_nodes

mpmath.mp.dps = 40


def exact(model: BGNBD, x: float, age: float, days: float) -> float:
    """(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]."""
    r, alpha, a, b, x, age, days = (mpmath.mpf(v) for v in (model.r, model.alpha, model.a,
                                                            model.b, x, age, days))
    z = days / (alpha + age + days)
    f = mpmath.hyp2f1(r + x, b + x, a + b + x - 1, z)
    return float((a + b + x - 1) / (a - 1)
                 * (1 - ((alpha + age) / (alpha + age + days)) ** (r + x) * f))


def main(cases: int = 1000, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)

    def log_uniform(low: float, high: float) -> float:
        return math.exp(rng.uniform(math.log(low), math.log(high)))

    rows = []
    for _ in range(cases):
        model = BGNBD(log_uniform(0.01, 50), log_uniform(0.1, 1000), log_uniform(0.02, 50),
                      log_uniform(0.02, 200), 0.0, 1)
        if abs(model.a - 1) < 1e-3:
            continue
        x = float(rng.choice([0, 1, 2, 3, 5, 8, 13, 30, 60, 120, 300, 1000]))
        age = float(rng.choice([0, 1, 10, 60, 200, 700, 2000, 5000]))
        days = float(rng.choice([0.5, 1, 7, 30.4375, 91.3, 182.6, 365, 730, 1826, 3650]))
        scale = (model.r + x + 4) * days / (model.alpha + age)
        if not integral_nodes(np.array([scale]))[0]:
            continue  # beyond the integral's range: the closed form is used there
        truth = exact(model, x, age, days)
        ours = _expected_by_quadrature(model, [days], [x], [age])[0]
        rows.append((abs(ours - truth) / abs(truth), model, x, age, days))
    rows.sort(key=lambda row: row[0], reverse=True)
    print(f"{len(rows)} cases inside the integral's range; the worst relative errors:")
    for error, m, x, age, days in rows[:5]:
        print(f"  {error:.2e}  r={m.r:.3g} alpha={m.alpha:.3g} a={m.a:.3g} b={m.b:.3g} "
              f"x={x:g} T={age:g} t={days:g}")


if __name__ == "__main__":
    main(*(int(v) for v in sys.argv[1:3]))
