"""The bounded minimiser of the predictive fits (xl_crm.core.minimize): optimality checked
by its own condition (the projected gradient vanishes) on random convex problems, where
that condition means the one minimum; scipy's L-BFGS-B as a second opinion on the
published CDNOW fits and on a non-convex function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from xl_crm.core import predict
from xl_crm.core.minimize import ACCEPT_GTOL, minimize_bounded

CDNOW = Path(__file__).parent / "data" / "cdnow_summary.csv"


def quadratic(a: np.ndarray, c: np.ndarray):
    """f(x) = (x - c)' A (x - c) / 2 and its gradient."""
    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        d = x - c
        return float(d @ a @ d / 2), a @ d
    return fun


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       box=st.tuples(st.floats(-12, 0), st.floats(0.1, 12)))
@example(n=4, seed=0, box=(-1.0, 2.0))  # found by hypothesis: a line search at the last digit
@example(n=4, seed=55693, box=(-10.0, 9.0))  # found: a minimum value near 0
def test_random_convex_problems_end_at_their_minimum(n, seed, box):
    """A convex quadratic (condition up to 1e4) whose centre may lie outside the box: the
    end point is in the box and its projected gradient is zero (to what rounding lets one
    see; or, where the value stopped falling, within the tolerance the minimiser
    promises), which for a convex function holds at the minimum and nowhere else; and
    its value is at least as low as L-BFGS-B's."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = q @ np.diag(np.logspace(0, rng.uniform(0, 4), n)) @ q.T
    c = rng.uniform(-20, 20, n)
    low, high = box
    fun = quadratic(a, c)
    end = minimize_bounded(fun, rng.uniform(low, high, n), low, high)
    assert end.success, end.message
    assert ((end.x >= low) & (end.x <= high)).all()
    g = fun(end.x)[1]
    projected = np.max(np.abs(end.x - np.clip(end.x - g, low, high)))
    if end.message == "converged (the value no longer falls)":  # within 1e-12 of falling
        assert projected <= ACCEPT_GTOL * max(1.0, end.fun)  # no further, by the contract
    else:
        # what rounding lets one resolve: a step's decrease g^2 / L against f's last digit
        resolvable = 10 * np.sqrt(np.linalg.eigvalsh(a).max() * 2.2e-16 * max(1.0, end.fun))
        assert projected <= 1e-9 + resolvable
    other = minimize(fun, np.zeros(n), jac=True, method="L-BFGS-B", bounds=[box] * n)
    assert end.fun <= other.fun + 1e-9


def test_the_cdnow_fits_are_at_least_as_good_as_l_bfgs_b():
    data = pd.read_csv(CDNOW)
    x, t, age = (data[c].to_numpy(float) for c in ("x", "t_x", "T"))
    (ux, ut, ua), counts, _ = predict.distinct_triples(x, t, age)
    xv, xi = np.unique(ux, return_inverse=True)
    args = (ux, ut, ua, counts.astype(float), float(age.mean()), len(x), xv, xi.ravel())
    theirs = minimize(predict._loss_and_gradient, np.zeros(4), jac=True, method="L-BFGS-B",
                      args=args, bounds=[(-12, 8)] * 4)
    model = predict.fit_bgnbd(x, t, age)
    assert model.converged
    assert -model.log_likelihood / len(x) <= theirs.fun + 1e-12
    ours = np.log([model.r, model.alpha / age.mean(), model.a, model.b])
    assert ours == pytest.approx(theirs.x, abs=1e-4)  # L-BFGS-B stops a little early


def test_rosenbrock_and_a_function_undefined_outside_a_region():
    def rosenbrock(x):
        value = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
        grad = np.zeros_like(x)
        grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
        return float(value), grad

    end = minimize_bounded(rosenbrock, [-1.2, 1.0, -0.5, 0.3], -5, 5)
    assert end.success and end.x == pytest.approx(np.ones(4), abs=1e-6)

    def log_barrier(x):  # NaN left of -1: the line search steps back from it
        if (x <= -1).any():
            return float("nan"), np.zeros_like(x)
        return float(np.sum(x - 2 * np.log1p(x))), 1 - 2 / (1 + x)

    end = minimize_bounded(log_barrier, [5.0, 0.0], -12, 12)
    assert end.success and end.x == pytest.approx([1.0, 1.0], abs=1e-7)


def test_a_minimum_on_a_bound_and_a_run_out_of_iterations():
    end = minimize_bounded(quadratic(np.eye(2), np.array([-20.0, 3.0])), [0.0, 0.0], -12, 8)
    assert end.success and list(end.x) == [-12.0, pytest.approx(3.0, abs=1e-9)]
    end = minimize_bounded(quadratic(np.diag([1.0, 1e4]), np.array([5.0, 5.0])), [0, 0],
                           -12, 12, max_iter=1)
    assert not end.success and end.message == "no convergence in 1 iterations"


def test_a_value_whose_last_digits_are_noise_ends_in_few_evaluations():
    """A likelihood summed over a million customers is exact to about 1e-13 of itself and
    its gradient to about 1e-8: the search must end there, not halve its step 30 times at
    every iteration (it once spent 375 evaluations, 22 s, on the BG/NBD fit of 800,000
    customers)."""
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    a = q @ np.diag([1.0, 10.0, 100.0, 1000.0]) @ q.T
    exact = quadratic(a, np.array([1.0, -2.0, 0.5, 3.0]))
    calls = []

    def noisy(x):
        calls.append(x)
        f, g = exact(x)
        return f + 20 + 1e-13 * rng.normal(), g + 1e-8 * rng.normal(size=4)

    end = minimize_bounded(noisy, np.zeros(4), -12, 8)
    assert end.success and end.x == pytest.approx([1.0, -2.0, 0.5, 3.0], abs=1e-4)
    assert len(calls) <= 3 * end.iterations + 5, (len(calls), end.iterations)
