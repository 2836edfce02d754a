"""xl_crm.core.special against scipy.special (scipy stays a dependency: the tests, and the
rare extreme rows of the predictions, use it), over the ranges the fits and predictions
reach, and the expected purchases against an independent numerical integral."""

from __future__ import annotations

import decimal

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from xl_crm.core.predict import BGNBD
from xl_crm.core.special import beta_nodes, betaln, digamma, gammaln, hyp2f1_series

positive = st.floats(1e-3, 1e4)


@given(st.lists(positive, min_size=1, max_size=30))
def test_gammaln_and_digamma_are_scipys(values):
    x = np.array(values)
    np.testing.assert_allclose(gammaln(x), sc.gammaln(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(digamma(x), sc.digamma(x), rtol=1e-13, atol=1e-13)


def test_scalars_poles_and_non_positive_arguments():
    assert gammaln(5.0) == pytest.approx(np.log(24.0), rel=1e-15)
    assert gammaln(0.0) == np.inf and gammaln(np.array([-2.0]))[0] == np.inf
    assert digamma(1.0) == pytest.approx(-np.euler_gamma, rel=1e-15)
    assert np.isnan(digamma(np.array([0.0, -1.5]))).all()


@given(positive, positive)
def test_betaln_is_scipys(a, b):
    assert betaln(a, b) == pytest.approx(sc.betaln(a, b), rel=1e-11, abs=1e-11)


def _exact_2f1(a: float, b: float, c: float, z: float) -> float:
    """The series in 50-digit decimals (scipy's own 2F1 is off by 2e-10 at a=21,
    b=6e-8, c=0.5, z=0.5), summed until a term is below 1e-40 of the sum."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        a_, b_, c_, z_ = (decimal.Decimal(v) for v in (a, b, c, z))
        term = total = decimal.Decimal(1)
        for n in range(20_000):
            term = term * (a_ + n) * (b_ + n) / ((n + 1) * (c_ + n)) * z_
            total += term
            if n > abs(a) + abs(b) and abs(term) < abs(total) * decimal.Decimal("1e-40"):
                break
        return float(total)


@settings(max_examples=200)
@given(st.floats(-20, 50), st.floats(-0.99, 10), st.floats(0.05, 400), st.floats(0, 0.6))
def test_hyp2f1_series_is_the_exact_sum_up_to_z_0_6(a, b, c, z):
    """The ranges of the predictions' Euler-transformed 2F1: a+b-1-r, a-1, a+b+x-1. With
    terms of both signs the sum loses what cancels: the error is held to 1e-13 of the
    value plus 1e-15 of the sum of the terms' sizes (that of |a|, |b|)."""
    ours = hyp2f1_series(a, b, np.array([c]), np.array([z]))[0]
    sizes = hyp2f1_series(abs(a), abs(b), np.array([c]), np.array([z]))[0]
    if np.isfinite(sizes) and sizes < 1e250:
        truth = _exact_2f1(a, b, c, z)
        assert abs(ours - truth) <= 1e-13 * abs(truth) + 1e-15 * sizes


def test_hyp2f1_series_says_nan_where_it_cannot_answer():
    out = hyp2f1_series(1.0, 1.0, np.array([-0.5, 2.0, 2.0, 2.0]), np.array([0.5, 1.0, -0.1,
                                                                          0.5]))
    assert np.isnan(out[:3]).all() and out[3] == pytest.approx(sc.hyp2f1(1, 1, 2, 0.5))
    assert np.isnan(hyp2f1_series(1.0, 1.0, np.array([2.0]), np.array([0.999]), 50))[0]
    assert hyp2f1_series(-2.0, 3.0, np.array([1.5]), np.array([0.5]))[0] == pytest.approx(
        sc.hyp2f1(-2, 3, 1.5, 0.5))  # a polynomial: the terms end


@pytest.mark.parametrize(("a", "b"), [(0.3, 0.7), (1.0, 1.0), (0.79, 2.4), (0.05, 40.0),
                                      (5.0, 0.2), (0.8, 300.0)])
@pytest.mark.parametrize("n", [1, 2, 16, 128])
def test_beta_nodes_integrate_moments_exactly(a, b, n):
    """E[p^k] under Beta(a, b) is B(a+k, b)/B(a, b): exact for k up to 2n-1."""
    p, w = beta_nodes(n, a, b)
    assert w.sum() == pytest.approx(1.0, rel=1e-14) and (0 < p).all() and (p < 1).all()
    for k in range(min(2 * n, 12)):
        exact = np.exp(sc.betaln(a + k, b) - sc.betaln(a, b))
        assert p**k @ w == pytest.approx(exact, rel=1e-10), k


def _by_quad(model: BGNBD, t: float, x: float, age: float) -> float:
    """E[purchases in t | alive, x, T] by adaptive quadrature of the Beta posterior of
    the dropout probability (scipy's QUADPACK with the algebraic weight)."""
    base, k, beta = model.alpha + age, model.r + x, model.b + x

    def inner(p: float) -> float:
        if p == 0:
            return k * t / base  # the limit
        return -np.expm1(-k * np.log1p(p * t / base)) / p

    value, _ = quad(inner, 0, 1, weight="alg", wvar=(model.a - 1, beta - 1), epsabs=0,
                    epsrel=1e-13, limit=200)
    return value / np.exp(sc.betaln(model.a, beta))


@pytest.mark.parametrize("model", [BGNBD(0.243, 30.9, 0.793, 2.426, 0.0, 1),
                                   BGNBD(2.0, 5.0, 3.5, 0.4, 0.0, 1),
                                   BGNBD(0.5, 200.0, 0.3, 0.5, 0.0, 1),  # a+b < 1
                                   BGNBD(1.2, 1.0, 1.0 + 1e-9, 8.0, 0.0, 1),
                                   BGNBD(0.8, 0.05, 0.6, 3.0, 0.0, 1)])  # t 7e4 x alpha+T
def test_expected_purchases_match_an_independent_integral(model):
    """Every route (the series up to z 0.6, Gauss-Jacobi beyond, a near one) against
    QUADPACK, for new and long-standing customers, at a month, a year and ten years."""
    x = np.array([0.0, 0.0, 1.0, 3.0, 12.0, 40.0])
    age = np.array([0.0, 400.0, 30.0, 90.0, 700.0, 1500.0])
    recency = np.minimum(age, np.array([0.0, 0.0, 20.0, 80.0, 650.0, 1400.0]))
    for days in (30.4, 365.0, 3650.0):
        ours = model.expected_purchases(days, x, recency, age) / model.p_alive(x, recency, age)
        truth = [_by_quad(model, days, xi, ti) for xi, ti in zip(x, age, strict=True)]
        np.testing.assert_allclose(ours, truth, rtol=1e-8)
