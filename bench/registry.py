"""The scenario registry: what is compared, the aim, and the function that measures it.

A scenario is a generator function registered with its id, title and the comparisons (rows of the
results table) it is judged by::

    @register(7, "What it measures",
              Comparison("our variant", "the alternative", aim="≥ 2×", met=lambda ratio: ratio >= 2))
    def measure(ctx):
        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", ours), ("alternative", theirs)])

Every module of `bench/scenarios/` is imported by `bench.scenarios`, so a new scenario is one new
file there.
"""

import dataclasses
from typing import Callable, Dict, Optional, Tuple


class Skipped(Exception):
    """Raised by a scenario that cannot run here (e.g. a package set needing an unreachable registry):
    bench.run logs it and records it under `skipped`, not as an error."""


SPEEDUP = "alternative/us"  # how many times faster we are: higher is better
COST = "us/alternative"  # what we cost relative to the reference: lower is better


def at_least(times):
    """Aim predicate: the ratio is `times` or more."""
    return lambda ratio: ratio >= times


def at_most(times):
    """Aim predicate: the ratio is `times` or less."""
    return lambda ratio: ratio <= times


@dataclasses.dataclass
class Sample:
    """One timed run of one variant."""

    scenario: int
    variant: str
    side: str  # "us" or "alternative"
    seconds: float
    repetition: int
    order: int  # position of the step within its repetition (0 ran first)
    extra: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        data = {"scenario": self.scenario, "variant": self.variant, "side": self.side,
                "seconds": round(self.seconds, 3), "repetition": self.repetition, "order": self.order}
        data.update(self.extra)
        return data


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row of the table: a variant of ours against an alternative (or a reference of ours).

    The ratio is taken between the medians of the two variants' samples: SPEEDUP is
    alternative / us (shown `2.10×`), COST is us / alternative (shown `1.05×`, or `8 %` with percent).
    field: the sample field compared, `seconds` unless the scenario records another measure in its
    samples (e.g. `module_rss_mib`; fields ending in `_mib` are shown in MiB).
    """

    us: str
    alternative: str
    aim: str = ""
    met: Optional[Callable[[float], bool]] = None
    ratio: str = SPEEDUP
    percent: bool = False
    judged_on: Tuple[str, ...] = ()  # package sets whose rows the aim is judged on (() all; others show —)
    field: str = "seconds"  # the sample field compared (e.g. a peak RSS in MiB)
    met_on: Tuple[Tuple[str, Callable[[float], bool]], ...] = ()  # (package set, its test): aims that differ by set

    def value(self, us_seconds, alternative_seconds):
        numerator, denominator = ((alternative_seconds, us_seconds) if self.ratio == SPEEDUP
                                  else (us_seconds, alternative_seconds))
        return numerator / denominator if denominator else None

    def shown(self, value):
        if value is None:
            return "—"
        return "%.1f %%" % (value * 100) if self.percent else "%.2f×" % value

    def verdict(self, value, package_set=None):
        met = dict(self.met_on).get(package_set) if self.met_on else self.met
        if met is None or value is None or (self.judged_on and package_set not in self.judged_on):
            return "—"
        return "yes" if met(value) else "no"


@dataclasses.dataclass(frozen=True)
class Scenario:
    id: int
    title: str
    run: Callable
    comparisons: Tuple[Comparison, ...]
    sets: Tuple[str, ...] = ()  # package sets it runs on (bench/deps_set.py), the default one first; () none


SCENARIOS: Dict[int, Scenario] = {}


def register(scenario_id, title, *comparisons, sets=()):
    """Decorator: register `fn(ctx)` (a generator of Samples) as scenario `scenario_id`.

    sets: the package sets a full run measures it on, once each (`ctx.package_set`; every sample records
    its `set`); the first is the default, the one of samples that lack `set` and of --quick runs.
    """

    def decorate(fn):
        if scenario_id in SCENARIOS:
            raise ValueError("scenario %d is registered twice (%s, %s)"
                             % (scenario_id, SCENARIOS[scenario_id].run.__module__, fn.__module__))
        SCENARIOS[scenario_id] = Scenario(scenario_id, title, fn, tuple(comparisons), tuple(sets))
        return fn

    return decorate


def selected(only=None):
    """The registered scenarios, by id; `only` (ids) restricts them and must name registered ones."""
    from bench import scenarios  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import

    if only:
        unknown = sorted(set(only) - set(SCENARIOS))
        if unknown:
            known = ", ".join(map(str, sorted(SCENARIOS)))
            raise KeyError("no scenario %s (registered: %s)" % (", ".join(map(str, unknown)), known))
        return [SCENARIOS[i] for i in sorted(set(only))]
    return [SCENARIOS[i] for i in sorted(SCENARIOS)]
