"""Comparing groups of training runs: the spread over *training* seeds, and whether a
difference between two groups exceeds it.

A metric of one trained model (FID, NLL_oracle, modes) moves with the training seed, often by
more than the gap between two methods. So a comparison takes several runs per method and
reports, per group, the mean and the sample standard deviation (n - 1) over runs, and for each
pair of groups the difference of means, its standard error (Welch: sqrt(s_a^2/n_a + s_b^2/n_b)),
Welch's t and its two-sided p-value (scipy), and a verdict: the difference *exceeds the spread*
when it is larger than twice its standard error (about a 95% interval) -- with 3 runs a group
that is a rough screen, not a proof; the p-value says how rough.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """The values of one metric over the runs of one group."""

    label: str
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (n - 1); 0 for a single run."""
        return statistics.stdev(self.values) if self.n > 1 else 0.0


@dataclass(frozen=True)
class Difference:
    """Group ``b`` minus group ``a``."""

    a: str
    b: str
    diff: float
    stderr: float
    t: float
    p_value: float
    exceeds_spread: bool


def compare(a: Group, b: Group) -> Difference:
    """Welch's comparison of two groups (``nan`` t and p when either has a single run)."""
    diff = b.mean - a.mean
    if a.n < 2 or b.n < 2:
        return Difference(a.label, b.label, diff, math.nan, math.nan, math.nan, False)
    se = math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n)
    if se == 0.0:
        exact = diff != 0.0
        return Difference(a.label, b.label, diff, 0.0, math.inf if exact else math.nan,
                          0.0 if exact else 1.0, exact)
    from scipy import stats

    t, p = stats.ttest_ind(b.values, a.values, equal_var=False)
    return Difference(a.label, b.label, diff, se, float(t), float(p), abs(diff) > 2 * se)


def compare_all(groups: list[Group]) -> list[Difference]:
    """Every pair, in the order given (each later group against each earlier one)."""
    return [compare(groups[i], groups[j]) for i in range(len(groups))
            for j in range(i + 1, len(groups))]
