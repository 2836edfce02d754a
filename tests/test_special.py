"""xl_crm.core.special against 40-digit values (mpmath) over the ranges the fits and
predictions reach, and the expected purchases of every route against an independent
numerical integral (scipy's QUADPACK; scipy stays a dependency, for the predictions'
rare rows beyond the integral)."""

from __future__ import annotations

import subprocess
import sys

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad

from xl_crm.core.predict import (
    BGNBD,
    CLOSED_FORM_FREQUENCIES,
    CLOSED_FORM_WORK,
    GRADED_MAX_A,
    INTEGRAL_LIMIT,
    NODES,
    _expected_by_graded,
    closed_form_first,
    discounted_purchases,
    integral_nodes,
)
from xl_crm.core.special import beta_nodes, betaln, digamma, gammaln

positive = st.floats(1e-3, 1e4)


mpmath.mp.dps = 40


def _exact(function, *args) -> float:
    return float(function(*(mpmath.mpf(v) for v in args)))


@given(st.lists(positive, min_size=1, max_size=30))
def test_gammaln_and_digamma_to_40_digits(values):
    x = np.array(values)
    np.testing.assert_allclose(gammaln(x), [_exact(mpmath.loggamma, v) for v in values],
                               rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(digamma(x), [_exact(mpmath.digamma, v) for v in values],
                               rtol=1e-14, atol=1e-14)


def test_scalars_poles_and_non_positive_arguments():
    assert gammaln(5.0) == pytest.approx(np.log(24.0), rel=1e-15)
    assert gammaln(0.0) == np.inf and gammaln(np.array([-2.0]))[0] == np.inf
    assert digamma(1.0) == pytest.approx(-np.euler_gamma, rel=1e-15)
    assert np.isnan(digamma(np.array([0.0, -1.5]))).all()


@given(positive, positive)
def test_betaln_to_40_digits(a, b):
    """Also where one argument is large (scipy's betaln(6846.5, 0.25) is 1.3e-11 off)."""
    exact = _exact(lambda u, v: mpmath.log(mpmath.beta(u, v)), a, b)
    assert betaln(a, b) == pytest.approx(exact, rel=1e-13, abs=1e-13)
    assert betaln(np.array([a, b]), np.array([b, a])) == pytest.approx([exact, exact],
                                                                       rel=1e-13, abs=1e-13)


@pytest.mark.parametrize(("a", "b"), [(0.3, 0.7), (1.0, 1.0), (0.79, 2.4), (0.05, 40.0),
                                      (5.0, 0.2), (0.8, 300.0)])
@pytest.mark.parametrize("n", [1, 2, *NODES])
def test_beta_nodes_integrate_moments_exactly(a, b, n):
    """E[p^k] under Beta(a, b) is B(a+k, b)/B(a, b): exact for k up to 2n-1."""
    p, w = beta_nodes(n, a, b)
    assert w.sum() == pytest.approx(1.0, rel=1e-14) and (0 < p).all() and (p < 1).all()
    for k in range(min(2 * n, 12)):
        exact = np.exp(sc.betaln(a + k, b) - sc.betaln(a, b))
        assert p**k @ w == pytest.approx(exact, rel=1e-10), k


def test_node_counts_grow_with_the_scale_and_stop_at_the_limit():
    counts = integral_nodes(np.array([0.0, 1.0, 16.0, 36.0, 100.0, 400.0, INTEGRAL_LIMIT,
                                      INTEGRAL_LIMIT * 1.01, np.inf, np.nan, -1.0]))
    assert counts.tolist() == [16, 16, 32, 32, 64, 128, 128, 0, 0, 0, 0]


def _by_quad(model: BGNBD, t: float, x: float, age: float) -> float:
    """E[purchases in t | alive, x, T] by adaptive quadrature of the Beta posterior of
    the dropout probability (scipy's QUADPACK with the algebraic weight)."""
    base, k, beta = model.alpha + age, model.r + x, model.b + x

    def inner(p: float) -> float:
        if p == 0:
            return k * t / base  # the limit
        return -np.expm1(-k * np.log1p(p * t / base)) / p

    value, _ = quad(inner, 0, 1, weight="alg", wvar=(model.a - 1, beta - 1), epsabs=0,
                    epsrel=1e-13, limit=400)
    return value / np.exp(sc.betaln(model.a, beta))


MODELS = [BGNBD(0.243, 30.9, 0.793, 2.426, 0.0, 1),  # CDNOW in days
          BGNBD(0.406, 30.0, 0.373, 2.894, 0.0, 1),  # the shipped sample
          BGNBD(2.0, 5.0, 3.5, 0.4, 0.0, 1),
          BGNBD(0.5, 200.0, 0.3, 0.5, 0.0, 1),  # a+b < 1
          BGNBD(1.2, 1.0, 1.0 + 1e-9, 8.0, 0.0, 1),  # a near 1: no closed form
          BGNBD(0.012, 0.25, 0.14, 0.05, 0.0, 1),  # tiny r, a, b
          BGNBD(0.8, 0.05, 0.6, 3.0, 0.0, 1),  # t 7e4 x alpha+T
          BGNBD(92.88, 122.29, 0.8176, 1.0199, 0.0, 1),  # r >> a+b
          BGNBD(200.0, 100.0, 0.05, 1.0, 0.0, 1)]


@pytest.mark.parametrize("model", MODELS)
def test_expected_purchases_match_an_independent_integral(model):
    """Both routes (the Gauss-Jacobi integral up to INTEGRAL_LIMIT, the closed form with
    2F1 beyond) against QUADPACK, for new and long-standing customers, at a month, a
    year and ten years."""
    x = np.array([0.0, 0.0, 1.0, 3.0, 12.0, 40.0])
    age = np.array([0.0, 400.0, 30.0, 90.0, 700.0, 1500.0])
    recency = np.minimum(age, np.array([0.0, 0.0, 20.0, 80.0, 650.0, 1400.0]))
    for days in (30.4, 365.0, 3650.0):
        ours = model.expected_purchases(days, x, recency, age) / model.p_alive(x, recency, age)
        truth = [_by_quad(model, days, xi, ti) for xi, ti in zip(x, age, strict=True)]
        np.testing.assert_allclose(ours, truth, rtol=1e-9)


@pytest.mark.parametrize("model", MODELS[:4])
def test_the_routes_agree_on_both_sides_of_the_limit(model):
    """Just inside INTEGRAL_LIMIT (128 nodes) and just beyond it (2F1): the same numbers
    to 1e-9, so no customer's prediction jumps where the route changes."""
    x = np.array([0.0, 2.0, 10.0, 30.0])
    age = np.array([5.0, 20.0, 60.0, 120.0])
    scale = (model.r + x + 4) / (model.alpha + age)
    for share in (0.99, 1.01):
        days = share * INTEGRAL_LIMIT / scale
        ours = model.expected_purchases(days, x, np.minimum(age, x), age)
        alive = model.p_alive(x, np.minimum(age, x), age)
        closed = alive * model._alive_purchases_2f1(days, x, age)
        np.testing.assert_allclose(ours, closed, rtol=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_the_closed_form_first_gives_the_same_numbers(model):
    """Asked to take the closed form first (the integral where it fails), as for much
    work: the same numbers as the integral first, to 1e-9."""
    x = np.array([0.0, 0.0, 1.0, 3.0, 12.0, 40.0])
    age = np.array([0.0, 400.0, 30.0, 90.0, 700.0, 1500.0])
    recency = np.minimum(age, np.array([0.0, 0.0, 20.0, 80.0, 650.0, 1400.0]))
    for days in (30.4, 365.0, 3650.0):
        integral = model.expected_purchases(days, x, recency, age, closed_form=False)
        closed = model.expected_purchases(days, x, recency, age, closed_form=True)
        np.testing.assert_allclose(closed, integral, rtol=1e-9)


def test_the_route_is_decided_once_by_rows_times_horizons(monkeypatch):
    """The closed form comes first from CLOSED_FORM_WORK rows x horizons on: for one
    horizon by the rows, for a year of months by rows x 12 (every month the same)."""
    model = MODELS[0]
    closed_rows = []
    real = BGNBD._alive_purchases_2f1

    def counted(self, days, x, age_):
        closed_rows.append(len(x))
        return real(self, days, x, age_)

    monkeypatch.setattr(BGNBD, "_alive_purchases_2f1", counted)

    def rows(n):
        x = np.arange(n, dtype=float) % 20
        return x, x * 10, x * 10 + 30

    model.expected_purchases(365.0, *rows(CLOSED_FORM_WORK - 1))
    assert closed_rows == []  # every row within the integral's range
    model.expected_purchases(365.0, *rows(CLOSED_FORM_WORK))
    assert closed_rows == [CLOSED_FORM_WORK]
    closed_rows.clear()
    discounted_purchases(model, *rows(CLOSED_FORM_WORK // 12 - 1))
    assert closed_rows == []
    discounted_purchases(model, *rows(CLOSED_FORM_WORK // 12))
    assert sum(closed_rows) == CLOSED_FORM_WORK // 12 * 12  # the months asked at once


# cases where the closed form with scipy's 2F1 fails or loses digits, or an integral
# needs more than its nodes (two independent reviews'), with E[purchases] from mpmath's
# 2F1 at 60 to 400 digits, checked by mpmath's integral over the posterior:
# (r, alpha, a, b), days, x, t_x, T, expected purchases
HARD_CASES = [
    ((0.243, 30.9, 0.793, 2.426), 1826, 460, 460, 460, 842.2321685358272),  # heavy buyer
    ((0.5, 0.5, 0.8, 300.0), 365, 0, 0, 0, 204.08419980351408),  # b+x 300, new
    ((0.243, 30.9, 1.00010001, 300.0), 1, 0, 0, 3000, 8.01741510578865e-05),  # a near 1
    ((2.0, 5.0, 1.00010001, 30.0), 30.4375, 40, 3000, 3000, 0.41805695910991697),
    ((0.35331477667079975, 170.86886748562574, 1.005952741473798, 26.95435897898989), 1,
     4352, 5000, 5000, 0.8414316722957779),  # the subtraction cancels
    ((0.7, 1.0, 1.7, 0.5), 730, 0, 0, 1, 1.627107096015801),  # scipy's 2F1 23 % off
    ((72.7156, 0.150523, 0.01710742723, 0.088279), 3650, 0, 0, 0, 1166255.0312552904),
    # a second review's: a large (the posterior keeps p away from 0), r + x tiny at a
    # long horizon, r large (scipy's 2F1 loses 1e-10 with a large first parameter)
    ((0.5, 20.0, 2000.0, 8000.0), 3650, 3, 10, 10, 4.002952325277879),
    ((2.0, 1.0, 1000.0, 1.0), 3650, 20, 50, 50, 0.020020020020020023),
    ((128.1, 0.4637, 559.3, 9.486), 365, 2, 9, 9, 0.01878201683682609),
    ((0.5, 20.0, 1000.0, 4000.0), 0.05, 3, 10, 10, 0.004663637032920222),
    ((0.002, 1.0, 0.5, 1.0), 3650, 0, 0, 0, 0.3583609967214316),
    ((1e-05, 0.001, 0.5, 1.0), 365, 0, 0, 0, 0.0188316757453322),
    ((1418.97, 13484.6, 0.178494, 0.0612439), 0.589334, 0, 0, 1000, 0.056514265944490306),
]


@pytest.mark.parametrize("case", HARD_CASES, ids=range(len(HARD_CASES)))
def test_hard_cases_are_right_on_every_route(case):
    params, days, x, recency, age, truth = case
    model = BGNBD(*params, 0.0, 1)
    for closed_form in (None, False, True):
        ours = model.expected_purchases(days, x, recency, age, closed_form=closed_form)
        assert ours == pytest.approx(truth, rel=1e-10), closed_form
    if model.a < GRADED_MAX_A:
        alive = model.p_alive(x, recency, age)
        graded = _expected_by_graded(model, [days], [x], [age])[0]
        assert alive * graded == pytest.approx(truth, rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_the_graded_integral_matches_quadpack_at_any_horizon(model):
    """The graded rule that takes the rows beyond the Gauss-Jacobi integral's range, on
    every case, up to a hundred years."""
    x = np.array([0.0, 0.0, 1.0, 3.0, 12.0, 40.0])
    age = np.array([0.0, 400.0, 30.0, 90.0, 700.0, 1500.0])
    for days in (1.0, 365.0, 3650.0, 36500.0):
        ours = _expected_by_graded(model, np.full(len(x), days), x, age)
        truth = [_by_quad(model, days, xi, ti) for xi, ti in zip(x, age, strict=True)]
        np.testing.assert_allclose(ours, truth, rtol=1e-9)


def test_many_distinct_frequencies_take_the_closed_form_first():
    """The integral's nodes are made per frequency: from CLOSED_FORM_FREQUENCIES distinct
    ones on, the closed form comes first however few the rows."""
    assert not closed_form_first(np.arange(CLOSED_FORM_FREQUENCIES - 1.0), 12)
    assert closed_form_first(np.arange(float(CLOSED_FORM_FREQUENCIES)), 1)


def test_the_sample_report_does_not_import_scipy():
    """scipy.special takes about 0.13 s to import: the everyday analysis does without."""
    code = ("import sys, datetime as dt; from xl_crm.files import read_sales; "
            "from xl_crm.core.analysis import analyze; from xl_crm.cli import SAMPLE; "
            "a = analyze(read_sales(SAMPLE, today=dt.date(2026, 11, 22))); "
            "assert a.prediction.usable; print(sorted(m for m in sys.modules "
            "if m.startswith('scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_nodes_made_together_are_the_nodes_made_one_at_a_time():
    from xl_crm.core import special

    cases = [(1, 0.5, 2.0), (16, 0.8, 1.0), (32, 1.0, 1.0), (32, 2.0, 1e-4), (64, 0.02, 3000.0),
             (128, 3.0, 3000.0)]
    one = {}
    for n, a, b in cases:
        special._nodes.clear()
        one[n, a, b] = special.beta_nodes(n, a, b)
    special._nodes.clear()
    for n, a, b in cases:
        many = special.beta_nodes_many(n, a, [b, b + 1, b])
        assert many[0][0] is many[2][0]  # one set per distinct b, cached
        for mine, theirs in zip(many[0], one[n, a, b]):
            np.testing.assert_array_equal(mine, theirs)  # the same floats, NaN included
    # the cache keeps CACHED_NODES sets, the oldest made dropped first
    special._nodes.clear()
    special.beta_nodes_many(4, 1.0, np.arange(1.0, special.CACHED_NODES + 3))
    assert len(special._nodes) == special.CACHED_NODES
    assert (4, 1.0, 1.0) not in special._nodes and (4, 1.0, 3.0) in special._nodes
