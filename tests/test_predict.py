"""Predictive CLV (xl_crm.core.predict): BG/NBD and Gamma-Gamma against the published CDNOW
figures, their properties, and their place in the analysis, report and worksheet function.

tests/data/cdnow_summary.csv is the CDNOW sample summary (2,357 customers, calibration
to 1997-09-30, time in weeks: x, t_x, T and zbar, the mean repeat transaction value) as
redistributed with the lifetimes package (CamDavidsonPilon/lifetimes, MIT licence,
lifetimes/datasets/cdnow_customers_summary_with_transactions.csv); the data is Fader and
Hardie's, from brucehardie.com.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_crm.core.predict import (
    BGNBD,
    NODES,
    _expected_by_quadrature,
    bgnbd_log_likelihood,
    distinct_triples,
    fit_bgnbd,
    fit_gamma_gamma,
    predicted_clv,
)

CDNOW = Path(__file__).parent / "data" / "cdnow_summary.csv"
# published: Fader, Hardie & Lee (2005), "Counting your customers the easy way", and
# "RFM and CLV: using iso-value curves" (2005) / Fader & Hardie (2013), weeks
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow():
    data = pd.read_csv(CDNOW)
    assert len(data) == 2357 and (data["x"] > 0).sum() == 946
    return data


@pytest.fixture(scope="module")
def weekly(cdnow):
    return fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_bgnbd_gives_the_published_cdnow_parameters(weekly):
    assert weekly.converged
    for name, value in PUBLISHED_BGNBD.items():
        assert round(getattr(weekly, name), 3) == value, name
    assert round(weekly.log_likelihood, 1) == PUBLISHED_LL


def test_in_days_alpha_is_seven_times_larger(cdnow, weekly):
    daily = fit_bgnbd(cdnow["x"], cdnow["t_x"] * 7, cdnow["T"] * 7)
    assert daily.alpha / 7 == pytest.approx(weekly.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(daily, name) == pytest.approx(getattr(weekly, name), rel=1e-3)


def test_gamma_gamma_gives_the_published_cdnow_parameters(cdnow):
    model = fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    assert model.converged and model.customers == 946
    for name, value in PUBLISHED_GG.items():
        assert getattr(model, name) == pytest.approx(value, abs=0.01), name


def test_the_two_routes_to_expected_purchases_agree(cdnow, weekly):
    """2F1 closed form and the Gauss-Jacobi integral over the dropout posterior are two
    independent derivations of E[X(T, T+t)]: they agree to 1e-9 on every customer (the
    integral with the nodes it would use, and with the most nodes)."""
    x, t, age = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    for horizon in (1.0, 39.0, 520.0):
        days = np.full(len(x), horizon)
        closed = weekly._alive_purchases_2f1(days, x, age)
        np.testing.assert_allclose(_expected_by_quadrature(weekly, days, x, age), closed,
                                   rtol=1e-9, atol=1e-12)
        most = _expected_by_quadrature(weekly, days, x, age, np.full(len(x), NODES[-1]))
        np.testing.assert_allclose(most, closed, rtol=1e-9, atol=1e-12)
        alive = weekly.p_alive(x, t, age)
        np.testing.assert_allclose(weekly.expected_purchases(horizon, x, t, age),
                                   alive * closed, rtol=1e-9, atol=1e-12)


def test_a_near_one_uses_the_integral_and_stays_finite():
    model = BGNBD(0.5, 10.0, 1.0 + 1e-9, 2.0, 0.0, 1)
    values = model.expected_purchases(100.0, [0, 3, 10], [0, 20, 50], [60, 60, 60])
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    nearby = BGNBD(0.5, 10.0, 1.001, 2.0, 0.0, 1)
    np.testing.assert_allclose(values, nearby.expected_purchases(100.0, [0, 3, 10], [0, 20, 50],
                                                                 [60, 60, 60]), rtol=1e-2)


def test_odds_of_dropping_out_beyond_a_float_are_zero_alive_without_a_warning():
    """x = 200, t_x = 1, T = 1000: log odds of having dropped out about 1,246 (exp
    overflows): P(alive) and the expected purchases are 0, and numpy says nothing."""
    model = BGNBD(0.5, 1.0, 1.0 + 1e-3, 1.0, 0.0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.p_alive([200], [1], [1000])[0] == 0.0
        assert model.expected_purchases(365.0, [200], [1], [1000])[0] == 0.0


def test_the_log_likelihood_is_the_papers_formula_by_hand():
    """Customer x=2, t_x=30.43, T=38.86 at the published parameters, term by term."""
    from math import exp, lgamma, log

    r, alpha, a, b = PUBLISHED_BGNBD.values()
    x, t, age = 2, 30.43, 38.86

    def beta(p, q):
        return exp(lgamma(p) + lgamma(q) - lgamma(p + q))

    by_hand = (exp(lgamma(r + x) - lgamma(r)) * alpha ** r
               * (beta(a, b + x) / beta(a, b) / (alpha + age) ** (r + x)
                  + beta(a + 1, b + x - 1) / beta(a, b) / (alpha + t) ** (r + x)))
    assert bgnbd_log_likelihood(r, alpha, a, b, [x], [t], [age])[0] == pytest.approx(
        log(by_hand), rel=1e-12)


rfm = st.tuples(st.integers(0, 40), st.floats(0, 1), st.floats(1, 400))


@settings(max_examples=200, deadline=None)
@given(rfm)
def test_p_alive_is_one_without_a_repeat_purchase_and_a_probability(case):
    x, share, age = case
    model = BGNBD(0.243, 30.9, 0.793, 2.426, 0.0, 1)
    t = 0.0 if x == 0 else share * age
    p = model.p_alive([x], [t], [age])[0]
    assert 0.0 <= p <= 1.0
    if x == 0:
        assert p == 1.0


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.floats(1, 400), st.floats(0.01, 0.98))
def test_p_alive_rises_with_recency_and_falls_with_age(x, age, share):
    model = BGNBD(0.243, 30.9, 0.793, 2.426, 0.0, 1)
    t = share * age
    later = min(age, t + 0.01 * age)
    assert model.p_alive([x], [later], [age])[0] >= model.p_alive([x], [t], [age])[0]
    assert model.p_alive([x], [t], [age * 1.5])[0] <= model.p_alive([x], [t], [age])[0]


@settings(max_examples=100, deadline=None)
@given(rfm, st.floats(1, 1000))
def test_expected_purchases_grow_with_the_horizon(case, horizon):
    x, share, age = case
    model = BGNBD(0.243, 30.9, 0.793, 2.426, 0.0, 1)
    t = 0.0 if x == 0 else share * age
    short = model.expected_purchases(horizon, [x], [t], [age])[0]
    long = model.expected_purchases(horizon * 2, [x], [t], [age])[0]
    assert 0 <= short <= long


def test_gamma_gamma_shrinks_a_customers_mean_toward_the_population(cdnow):
    model = fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    mean = model.population_mean
    for x, m in ((1, 200.0), (1, 5.0), (20, 200.0)):
        value = model.expected_value([x], [m])[0]
        assert min(m, mean) <= value <= max(m, mean)
    assert model.expected_value([0], [0.0])[0] == pytest.approx(mean)
    # more repeat purchases: closer to the customer's own mean
    assert abs(model.expected_value([20], [200.0])[0] - 200) < \
        abs(model.expected_value([1], [200.0])[0] - 200)


def test_predicted_clv_is_the_discounted_monthly_sum(weekly):
    """One month (30.4375 days) ahead: purchases x value x margin / (1 + monthly rate)."""
    daily = BGNBD(weekly.r, weekly.alpha / 7, weekly.a, weekly.b, 0.0, 1)
    x, t, age = [3], [100.0], [200.0]
    month = daily.expected_purchases(365.25 / 12, x, t, age)[0]
    rate = 1.1 ** (1 / 12) - 1
    assert predicted_clv(daily, np.array([50.0]), x, t, age, 365.25 / 12, 0.4, 0.10)[0] == \
        pytest.approx(month * 50 * 0.4 / (1 + rate))
    twelve = predicted_clv(daily, np.array([50.0]), x, t, age, 365, 1.0, 0.0)[0]
    assert twelve == pytest.approx(daily.expected_purchases(365, x, t, age)[0] * 50)


def test_too_few_repeat_buyers_or_bad_means_are_said_not_fitted():
    model = fit_bgnbd([0, 0, 1], [0, 0, 5], [10, 20, 30])
    assert not model.converged and model.message == "1 repeat buyers; BG/NBD needs at least 2"
    gamma = fit_gamma_gamma([1, 2, 0], [-5.0, 0.0, 3.0])
    assert not gamma.converged and "0 repeat buyers with a positive mean value" in gamma.message
    with pytest.raises(ValueError, match="customer 2"):
        fit_bgnbd([1, 2], [5, 50], [10, 20])  # recency after the age


def test_the_fit_for_many_customers_is_quick_enough_to_run_in_every_analysis():
    """Not a timing test (benchmarks/ has those): 20,000 simulated customers fit and
    recover the parameters they were drawn from."""
    rng = np.random.default_rng(7)
    n, r, alpha, a, b = 20_000, 0.5, 20.0, 0.8, 3.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    age = rng.uniform(30, 720, n).round()
    x = np.zeros(n)
    t = np.zeros(n)
    for i in range(n):  # a purchase day process: exponential gaps, a drop after each
        clock = 0.0
        while True:
            clock += rng.exponential(1 / lam[i])
            if clock > age[i]:
                break
            x[i] += 1
            t[i] = clock
            if rng.random() < p[i]:
                break
    t = np.floor(t)
    x = np.where(t == 0, 0, x)
    fitted = fit_bgnbd(x, t, age)
    assert fitted.converged
    assert fitted.r == pytest.approx(r, rel=0.15) and fitted.a == pytest.approx(a, rel=0.3)


# ---- in the analysis ---------------------------------------------------------------------

def test_the_analysis_predicts_per_customer_and_tier_a_fading_customers_are_called(
        sample_analysis):
    c = sample_analysis.customers
    p = sample_analysis.prediction
    assert p.usable and p.valued and p.days == 365
    buyers = c["first_purchase"].notna()
    assert c.loc[buyers, "p_alive"].between(0, 1).all()
    assert c.loc[~buyers, ["p_alive", "predicted_clv"]].isna().all().all()
    one_day = c["frequency"] == 1  # one purchase: no repeat purchase day
    assert (c.loc[one_day & buyers, "p_alive"] == 1).all()
    fading = c[(c["abc_tier"] == "A") & (c["p_alive"] < 0.5) & (c["stage"] != "Lost")
               & ~c["stage"].isin(["Decline"])]
    assert (fading["action"] == "a-fading").all() and (fading["priority"] == 1).all()
    repeat = c["frequency"] > 1  # BG/NBD: a one-time buyer cannot have dropped out yet
    lost = c[(c["stage"] == "Lost") & repeat]
    assert lost["p_alive"].median() < 0.5
    assert c.loc[c["stage"] == "Growth", "p_alive"].median() > 0.9


def test_both_engines_give_the_same_predictions(tmp_path):
    from xl_crm.engines import analyze_path

    rows = []
    rng = np.random.default_rng(3)
    for i in range(300):
        start = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 500)))
        for k in range(int(rng.integers(1, 8))):
            day = start + dt.timedelta(days=int(k * rng.integers(5, 60)))
            if day <= dt.date(2025, 10, 31):
                rows.append((f"C{i}", day.isoformat(), round(float(rng.uniform(-20, 300)), 2)))
    path = tmp_path / "s.csv"
    pd.DataFrame(rows, columns=["Customer", "Date", "Amount"]).to_csv(path, index=False)
    a, b = (analyze_path(path, engine=e, today=dt.date(2026, 1, 1)) for e in ("pandas", "duckdb"))
    cols = ["customer", "p_alive", "expected_purchases", "expected_value", "predicted_clv"]
    pd.testing.assert_frame_equal(a.customers[cols], b.customers[cols])


def test_a_short_history_says_so_and_the_rest_goes_on(tmp_path):
    from xl_crm.engines import analyze_path

    path = tmp_path / "s.csv"
    path.write_text("Customer,Date,Amount\na,2026-01-05,10\nb,2026-01-06,20\na,2026-02-05,5\n")
    result = analyze_path(path, today=dt.date(2026, 3, 1))
    assert not result.prediction.usable
    assert "1 repeat buyers; BG/NBD needs at least 2" in result.log["prediction_note"]
    assert result.customers["p_alive"].isna().all()
    assert len(result.customers) == 2 and result.customers["abc_tier"].notna().all()


def test_the_report_shows_the_predicted_section_and_columns(sample_report):
    from openpyxl import load_workbook

    book = load_workbook(sample_report, read_only=True)
    clv = [v for row in book["CLV"].iter_rows(values_only=True) for v in row
           if isinstance(v, str)]
    assert any(v.startswith("Predicted value per customer") for v in clv)
    assert any(v.startswith("Dwyer's table values each tier as a group") for v in clv)
    assert any(v.startswith("BG/NBD (Fader, Hardie & Lee 2005) on 2,997 buyers") for v in clv)
    header = next(book["Customers"].iter_rows(values_only=True))
    assert "P(still buying)" in header and "Predicted value 12 months" in header
    notes = {r[0]: r[1] for r in book["Notes"].iter_rows(values_only=True) if r and r[0]}
    assert notes["Predicted value per customer (BG/NBD and Gamma-Gamma)"].startswith(
        "P(still buying) is 100% for a customer with a single purchase day")


def _purchases(n: int = 150):
    """A seeded BG/NBD world over 2025 (rates, dropouts), as sales lines; C000 buys once on
    2025-01-01 and C001 twice, on 2025-01-08 and 2025-01-25."""
    rng = np.random.default_rng(11)
    customers, dates, amounts = ["C000", "C001", "C001"], \
        ["2025-01-01", "2025-01-08", "2025-01-25"], [10.0, 20.0, 30.0]
    for i in range(2, n):
        rate, stop = rng.gamma(0.8, 1 / 20), rng.beta(1.0, 4.0)
        day = float(rng.integers(0, 200))
        while day < 364:
            customers.append(f"C{i:03d}")
            dates.append((dt.date(2025, 1, 1) + dt.timedelta(days=int(day))).isoformat())
            amounts.append(round(float(rng.gamma(4, 10)), 2))
            if rng.random() < stop:
                break
            day += rng.exponential(1 / rate)
    return customers, dates, amounts


def test_crm_predict_spills_one_row_per_customer():
    from xl_crm.udfs import CRM_PREDICT

    customers, dates, amounts = _purchases()
    out = CRM_PREDICT(customers, dates, amounts, "2025-12-31")
    assert out[0] == ["Customer", "Repeat purchases", "Recency (days)", "Age (days)",
                      "P(alive)", "Expected purchases", "Expected order value",
                      "Predicted CLV"]
    rows = {r[0]: r for r in out[1:]}
    assert len(rows) == 150
    assert rows["C001"][1:4] == [1.0, 17.0, 357.0]
    assert rows["C000"][1:5] == [0.0, 0.0, 364.0, 1.0]
    assert all(0 <= r[4] <= 1 for r in out[1:])
    assert all(r[5] >= 0 and r[6] > 0 and r[7] >= 0 for r in out[1:])


def test_crm_predict_with_too_few_repeat_buyers_says_so_in_the_header():
    from xl_crm.udfs import CRM_PREDICT

    out = CRM_PREDICT(["a", "a", "b"], ["2025-01-05", "2025-03-01", "2025-02-01"],
                      [10, 20, 15])
    assert out[0][4] == "P(alive): 1 repeat buyers; BG/NBD needs at least 2"
    assert out[1][1:4] == [1.0, 55.0, 55.0] and out[1][4] is None
    with pytest.raises(Exception, match="horizon_days: must be more than 0 days"):
        CRM_PREDICT.__wrapped__(["a"], ["2025-01-05"], [10], None, -5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(0, 9)),
                min_size=1, max_size=60))
def test_distinct_triples_is_numpys_unique_by_rows(rows):
    x, t, age = (np.array(c, dtype=float) for c in zip(*rows))
    (ux, ut, uT), counts, back = distinct_triples(x, t, age)
    keys, inverse, expected = np.unique(np.column_stack([x, t, age]), axis=0,
                                        return_inverse=True, return_counts=True)
    assert np.array_equal(np.column_stack([ux, ut, uT]), keys)
    assert np.array_equal(counts, expected)
    assert np.array_equal(back, inverse.ravel())
