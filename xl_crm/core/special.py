"""The special functions the predictions need (:mod:`xl_crm.core.predict`), on numpy and
the standard library alone, for positive arguments.

Written here instead of importing ``scipy.special`` on every run: its import takes about
0.13 s (its array-API layer loads numpy's f2py and testing packages), a tenth of the
shipped sample's whole report. scipy stays a dependency: the predictions import its 2F1
only for the rare rows the integral is not used for, and the tests hold each function
here to scipy's over the ranges the fits and predictions reach.

- :func:`gammaln`: ``math.lgamma``, once per distinct argument; :func:`betaln` from it,
  with Stirling's series where an argument is 10 or more;
- :func:`digamma`: the recurrence psi(x) = psi(x + 10) - sum 1/(x + k), k = 0..9, then
  the asymptotic series to x^-14 (error below 1e-16 from 10 on);
- :func:`beta_nodes` (:func:`beta_nodes_many`: several at once): Gauss quadrature nodes
  and weights for the Beta(a, b) distribution on [0, 1] (Gauss-Jacobi by Golub & Welsch
  1969: the nodes are the eigenvalues of the Jacobi matrix of the recurrence; the weights
  the Christoffel numbers 1 / sum q_k(u)^2 of its orthonormal polynomials, which costs
  O(n^2) where eigenvectors cost O(n^3)).
"""

from __future__ import annotations

import math

import numpy as np

# Bernoulli-number terms of psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k), k = 1..7
_SHIFTS = np.arange(10.0)
_PSI_TERMS = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
# B_2k / (2k (2k - 1)), k = 1..7: Stirling's series of lgamma
_STIRLING_TERMS = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


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
    """log B(a, b) for a, b > 0: lgamma(a) + lgamma(b) - lgamma(a + b), except where the
    larger argument L is 10 or more, where lgamma(L) - lgamma(L + s) (s the smaller) is
    taken from Stirling's series as -(L - 1/2) log1p(s/L) - s log(L + s) + s + rest(L) -
    rest(L + s), so that two large logarithms are not subtracted (at L = 7,000 that
    subtraction loses 2e-11)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    small, large = np.minimum(a, b), np.maximum(a, b)
    out = np.asarray(gammaln(a) + gammaln(b) - gammaln(a + b), dtype=float)
    big = large >= 10
    if big.any():
        s, big_l = small[big], large[big]
        out = np.array(out, dtype=float, ndmin=1)
        out.reshape(-1)[big.reshape(-1)] = (
            gammaln(s) - (big_l - 0.5) * np.log1p(s / big_l) - s * np.log(big_l + s) + s
            + _stirling_rest(big_l) - _stirling_rest(big_l + s))
        out = out.reshape(a.shape)
    return float(out) if a.ndim == 0 else out


def _stirling_rest(z: np.ndarray) -> np.ndarray:
    """lgamma(z) - ((z - 1/2) log z - z + log(2 pi)/2) for z >= 10: Stirling's series to
    z^-13 (error below 1e-17)."""
    inv = 1 / z
    inv2 = inv * inv
    series = 0.0
    for c in reversed(_STIRLING_TERMS):
        series = series * inv2 + c
    return series * inv


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


CACHED_NODES = 4096  # sets of nodes kept (the oldest made is dropped first)
BATCH_ENTRIES = 2_000_000  # matrix entries decomposed at once (16 MB) by beta_nodes_many
_nodes: dict[tuple[int, float, float], tuple[np.ndarray, np.ndarray]] = {}


def beta_nodes(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Gauss nodes p on (0, 1) and their weights (summing to 1) for expectations
    under Beta(a, b), a, b > 0: sum w f(p) = E[f(p)] exactly for polynomials f of degree
    up to 2n - 1; the weights are NaN where they cannot be had in floats. Cached: the
    predictions ask for the same ones at every horizon."""
    return beta_nodes_many(n, a, [b])[0]


def beta_nodes_many(n: int, a: float, bs) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`beta_nodes` for each of the ``bs``, those not cached made together (one
    batched eigenvalue call and one recurrence for many: 0.2 ms instead of 0.3 ms each
    at n = 32; the same numbers as one at a time)."""
    keys = [(int(n), float(a), float(b)) for b in bs]
    made = {k: _nodes[k] for k in keys if k in _nodes}
    missing = list(dict.fromkeys(k for k in keys if k not in made))
    per_batch = max(1, BATCH_ENTRIES // (n * n))
    for lo in range(0, len(missing), per_batch):
        part = missing[lo:lo + per_batch]
        nodes, weights = _jacobi_nodes(int(n), float(a), np.array([k[2] for k in part]))
        for key, p, w in zip(part, nodes, weights):
            if not np.isfinite(w).all() or not (w > 0).all():
                w = np.full(n, np.nan)  # the caller's answer is NaN: another route
            p.setflags(write=False)
            w.setflags(write=False)
            while len(_nodes) >= CACHED_NODES:
                del _nodes[next(iter(_nodes))]
            _nodes[key] = made[key] = (p, w)
    return [made[k] for k in keys]


def _jacobi_nodes(n: int, a: float, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (rows: one per ``b``) by Golub-Welsch with Christoffel numbers."""
    # Jacobi weight (1 - u)^al (1 + u)^be on [-1, 1], p = (1 + u) / 2
    al, be = b[:, None] - 1.0, a - 1.0
    k = np.arange(n, dtype=float)[None, :]
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be * be - al * al) / (s * (s + 2))
        # the k = 0 term without its 0/0 when al + be = 0
        diag[:, 0] = (be - al[:, 0]) / (al[:, 0] + be + 2)
        k1, s1 = k[:, 1:], s[:, 1:]
        off = 4 * k1 * (k1 + al) * (k1 + be) * (k1 + al + be) / (s1 * s1 * (s1 + 1) * (s1 - 1))
        if n > 1:  # k = 1 with (k + al + be) / (s - 1) = 1 cancelled (0/0 when al + be = -1)
            a0 = al[:, 0]
            # the square through Python's pow, as one set at a time had it (numpy squares
            # by x * x, which differs from pow in the last bit now and then)
            square = np.array([(2 + float(v) + be) ** 2 for v in a0])
            off[:, 0] = 4 * (1 + a0) * (1 + be) / (square * (3 + a0 + be))
    off = np.sqrt(off)
    jacobi = np.zeros((len(b), n, n))
    i = np.arange(n)
    jacobi[:, i, i] = diag
    jacobi[:, i[:-1], i[1:]] = off
    jacobi[:, i[1:], i[:-1]] = off
    u = np.linalg.eigvalsh(jacobi)
    # Christoffel numbers: w_i = 1 / sum_k q_k(u_i)^2, q_k the orthonormal polynomials of
    # the same recurrence (u q_k = off_k q_{k+1} + diag_k q_k + off_{k-1} q_{k-1})
    before, now = np.zeros_like(u), np.ones_like(u)
    total = np.ones_like(u)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond a float: NaN weights
        for j in range(n - 1):
            before, now = now, ((u - diag[:, j:j + 1]) * now
                                - (off[:, j - 1:j] * before if j else 0.0)) / off[:, j:j + 1]
            total += now * now
        nodes = (1 + u) / 2
        weights = 1 / total
        weights /= weights.sum(axis=1, keepdims=True)
    return nodes, weights
