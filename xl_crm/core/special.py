"""The special functions the predictions need (:mod:`xl_crm.core.predict`), on numpy and
the standard library alone, for positive arguments.

Written here instead of importing ``scipy.special``: its import takes 0.15 s of every
run (its array-API layer loads numpy's f2py and testing packages), a tenth of the
shipped sample's whole report. The tests hold each function to scipy's over the ranges
the fits and predictions reach.

- :func:`gammaln`, :func:`betaln`: ``math.lgamma``, once per distinct argument;
- :func:`digamma`: the recurrence psi(x) = psi(x + 10) - sum 1/(x + k), k = 0..9, then
  the asymptotic series to x^-14 (error below 1e-16 from 10 on);
- :func:`hyp2f1_series`: the Gauss hypergeometric 2F1 by its power series, summed until
  the rest is below 1e-16 of the sum (NaN where that takes more than ``max_terms``);
- :func:`beta_nodes`: Gauss quadrature nodes and weights for the Beta(a, b) distribution
  on [0, 1] (Gauss-Jacobi by Golub & Welsch 1969: the nodes are the eigenvalues of the
  Jacobi matrix of the recurrence; the weights the Christoffel numbers 1 / sum q_k(u)^2
  of its orthonormal polynomials, which costs O(n^2) where eigenvectors cost O(n^3)).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

EPS = 1e-16  # the series' stopping rule: the rest below EPS of the sum
# Bernoulli-number terms of psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k), k = 1..7
_SHIFTS = np.arange(10.0)
_PSI_TERMS = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _lgamma(v: float) -> float:
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):  # a pole (0, -1, ...) or beyond a float
        return math.inf


_LGAMMA = np.frompyfunc(_lgamma, 1, 1)


def gammaln(x) -> np.ndarray | float:
    """log |Gamma(x)| (inf at the poles 0, -1, -2, ...)."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return _lgamma(float(arr))
    values, back = np.unique(arr, return_inverse=True)  # few distinct x in a fit
    return _LGAMMA(values).astype(float)[back.reshape(arr.shape)]


def betaln(a, b) -> np.ndarray | float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), for a, b > 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return gammaln(a) + gammaln(b) - gammaln(a + b)


def digamma(x) -> np.ndarray | float:
    """psi(x) = d/dx ln Gamma(x) for x > 0 (NaN for x <= 0)."""
    arr = np.asarray(x, dtype=float)
    y = np.where(arr > 0, arr, np.nan)
    # psi(x) = psi(x + 10) - sum 1/(x + k), k = 0..9: the series below holds from 10 on
    shift = (1 / (y[..., None] + _SHIFTS)).sum(axis=-1)
    y = y + 10
    inv2 = 1 / (y * y)
    series = 0.0
    for c in reversed(_PSI_TERMS):
        series = (series + c) * inv2
    out = np.log(y) - 0.5 / y - series - shift
    return float(out) if arr.ndim == 0 else out


def hyp2f1_series(a: float, b: float, c, z, max_terms: int = 2000) -> np.ndarray:
    """2F1(a, b; c; z) = sum_n (a)_n (b)_n / ((c)_n n!) z^n for arrays ``c`` > 0 and
    0 <= ``z`` < 1 (broadcast together): NaN where c <= 0, the sum overflows, or it has
    not converged after ``max_terms`` terms (z near 1 converges slowly; use another route
    there). Summed until the rest, bounded by the last term's ratio, is below 1e-16 of
    the sum; where terms of both signs cancel the error is about 1e-16 of the sum of the
    terms' sizes (the predictions multiply the sum by (1-z)^(a-1) and take it from 1, so
    that is 1e-16 of their answer)."""
    c, z = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(z, dtype=float))
    shape = c.shape
    c, z = c.ravel(), z.ravel()
    out = np.full(len(c), np.nan)
    ok = (c > 0) & (z >= 0) & (z < 1)
    idx = np.flatnonzero(ok)
    cc, zz = c[idx], z[idx]
    term = np.ones(len(idx))
    total = np.ones(len(idx))
    for n in range(max_terms):
        if not len(idx):
            break
        term = term * ((a + n) * (b + n) / (n + 1)) * zz / (cc + n)
        total = total + term
        nxt = np.abs((a + n + 1) * (b + n + 1) / (n + 2) * zz / (cc + n + 1))
        rho = np.maximum(nxt, zz)  # bounds every later ratio once they fall toward z
        with np.errstate(divide="ignore", invalid="ignore"):
            done = (rho < 1) & (np.abs(term) * rho / (1 - rho) <= EPS * np.abs(total))
        done |= term == 0  # a or b a non-positive integer: a polynomial
        if done.any():
            out[idx[done]] = total[done]
            keep = ~done
            idx, cc, zz, term, total = idx[keep], cc[keep], zz[keep], term[keep], total[keep]
    out[~np.isfinite(out)] = np.nan
    return out.reshape(shape)


@lru_cache(maxsize=4096)
def beta_nodes(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Gauss nodes p on (0, 1) and their weights (summing to 1) for expectations
    under Beta(a, b), a, b > 0: sum w f(p) = E[f(p)] exactly for polynomials f of degree
    up to 2n - 1. Cached: the predictions ask for the same ones at every horizon."""
    # Jacobi weight (1 - u)^al (1 + u)^be on [-1, 1], p = (1 + u) / 2
    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=float)
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be * be - al * al) / (s * (s + 2))
    diag[0] = (be - al) / (al + be + 2)  # the k = 0 term without its 0/0 when al + be = 0
    k1, s1 = k[1:], s[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        off = 4 * k1 * (k1 + al) * (k1 + be) * (k1 + al + be) / (s1 * s1 * (s1 + 1) * (s1 - 1))
    if n > 1:  # k = 1 with (k + al + be) / (s - 1) = 1 cancelled (0/0 when al + be = -1)
        off[0] = 4 * (1 + al) * (1 + be) / ((2 + al + be) ** 2 * (3 + al + be))
    off = np.sqrt(off)
    jacobi = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    u = np.linalg.eigvalsh(jacobi)
    # Christoffel numbers: w_i = 1 / sum_k q_k(u_i)^2, q_k the orthonormal polynomials of
    # the same recurrence (u q_k = off_k q_{k+1} + diag_k q_k + off_{k-1} q_{k-1})
    before, now = np.zeros(n), np.ones(n)
    total = np.ones(n)
    for j in range(n - 1):
        before, now = now, ((u - diag[j]) * now - (off[j - 1] * before if j else 0.0)) / off[j]
        total += now * now
    nodes = (1 + u) / 2
    weights = 1 / total
    weights /= weights.sum()
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights
