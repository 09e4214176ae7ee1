"""The results table: medians, ratios and aims, rebuilt from the results files without re-running.

    python -m bench.report [--results-dir DIR] [--docs docs/performance.md]

Each row (a Comparison of a registered scenario, on one package set for scenarios that take sets) is
taken from the newest results file that has samples of both of its variants, full runs before --quick
ones. Samples without a `set` belong to the scenario's default (first) set. The table replaces what stands between
`<!-- results:start -->` and `<!-- results:end -->` in the docs page.
"""

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path
from typing import Optional

from bench import results
from bench.registry import Comparison, selected

DOCS = results.REPO_ROOT / "docs" / "performance.md"
START = "<!-- results:start -->"
END = "<!-- results:end -->"


@dataclasses.dataclass
class Measure:
    """The median of one variant's samples in one results file."""

    variant: str
    median: float
    count: int
    reused: Optional[str] = None
    field: str = "seconds"

    @classmethod
    def of(cls, document, scenario, variant, package_set=None, default_set=None, field="seconds"):
        """package_set: only samples of that set (those without `set` count as default_set)."""
        samples = [s for s in document["samples"] if s["scenario"] == scenario and s["variant"] == variant
                   and s.get(field) is not None
                   and (package_set is None or s.get("set", default_set) == package_set)]
        if not samples:
            return None
        reused = sorted({s["reused"] for s in samples if s.get("reused")})
        return cls(variant, statistics.median(s[field] for s in samples), len(samples),
                   ", ".join(reused) or None, field)

    def cell(self):
        if self.field.endswith("_rss_mib"):  # e.g. module_rss_mib: "module 31.2 MiB"
            value = "%s %.1f MiB" % (self.field[:-len("_rss_mib")].replace("_", " "), self.median)
        elif self.field != "seconds":
            value = "%s %.3g" % (self.field, self.median)
        else:
            value = "%.2f s" % self.median if self.median < 10 else "%.1f s" % self.median
        reused = " (reused from `%s`)" % self.reused if self.reused else ""
        return "`%s` %s%s" % (self.variant, value, reused)


@dataclasses.dataclass
class Row:
    scenario: int
    title: str
    comparison: Comparison
    us: Optional[Measure] = None
    alternative: Optional[Measure] = None
    document: Optional[dict] = None
    package_set: Optional[str] = None

    @property
    def ratio(self):
        if self.us is None or self.alternative is None:
            return None
        return self.comparison.value(self.us.median, self.alternative.median)

    def cells(self, first):
        comparison = self.comparison
        title = "%d — %s" % (self.scenario, self.title) + (", set `%s`" % self.package_set if self.package_set else "")
        return [title if first else "",
                self.us.cell() if self.us else "`%s` —" % comparison.us,
                self.alternative.cell() if self.alternative else "`%s` —" % comparison.alternative,
                comparison.shown(self.ratio), comparison.aim or "—",
                comparison.verdict(self.ratio, self.package_set)]


def package_sets(documents, scenario):
    """[None] for a scenario without sets; else its default set, then its other sets and any other set
    that some document has samples of."""
    if not scenario.sets:
        return [None]
    found = {s["set"] for document in documents for s in document["samples"]
             if s["scenario"] == scenario.id and s.get("set")}
    return ([name for name in scenario.sets if name == scenario.sets[0] or name in found]
            + sorted(found - set(scenario.sets)))


def rows(documents, scenarios):
    """One Row per comparison of each scenario (and package set), from the newest document (full runs
    first) that has both sides."""
    ordered = sorted(documents, key=lambda document: bool(document.get("quick")))  # stable: newest first stays
    table = []
    for scenario in scenarios:
        default = scenario.sets[0] if scenario.sets else None
        for package_set in package_sets(ordered, scenario):
            for comparison in scenario.comparisons:
                row = Row(scenario.id, scenario.title, comparison, package_set=package_set)
                for document in ordered:
                    us = Measure.of(document, scenario.id, comparison.us, package_set, default,
                                    comparison.field)
                    alternative = Measure.of(document, scenario.id, comparison.alternative, package_set, default,
                                             comparison.field)
                    if us and alternative:
                        row.us, row.alternative, row.document = us, alternative, document
                        break
                table.append(row)
    return table


def _source_line(document):
    machine = document.get("machine", {})
    load = document.get("load", {})
    loads = "; ".join("%s %s" % (when, "/".join("%.2f" % value for value in load[when]))
                      for when in ("start", "end") if load.get(when))
    return ("- `%s`: %s%d repetition(s), %s cores %s (%s, %s GiB), load average (1/5/15 min) %s, commit %s"
            % (document["_file"], "**quick**, " if document.get("quick") else "", document.get("repetitions", 0),
               machine.get("cores", "?"), machine.get("arch", "?"), machine.get("cpu", "?"),
               machine.get("memory_gib", "?"), loads or "?", (document.get("commit") or "unknown")[:12]))


def render(table):
    """The Markdown table and the list of results files it was taken from."""
    lines = ["| scenario | us | alternative | ratio | aim | met? |", "|---|---|---|---|---|---|"]
    previous = None
    for row in table:
        lines.append("| %s |" % " | ".join(row.cells((row.scenario, row.package_set) != previous)))
        previous = (row.scenario, row.package_set)
    used = {}
    for row in table:
        if row.document is not None:
            used.setdefault(row.document["_file"], row.document)
    lines += ["", "Medians of the repetitions; taken from:" if used else "No results yet: run `make bench`."]
    lines += [_source_line(document) for document in used.values()]
    return "\n".join(lines) + "\n"


def update_docs(path, table_text):
    """Put table_text between the markers of the page at path; return True when the page changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        head, rest = text.split(START, 1)
        _old, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError("%s lacks the %s / %s markers" % (path, START, END)) from None
    new = "%s%s\n%s%s%s" % (head, START, table_text, END, tail)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def build(results_dirs, docs=None, only=None):
    """Render the table from the results files in results_dirs; update the docs page when given."""
    table = render(rows(results.load_all(*results_dirs), selected(only)))
    if docs:
        update_docs(docs, table)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.partition("\n\n")[0])
    parser.add_argument("--results-dir", type=Path, default=results.RESULTS_DIR)
    parser.add_argument("--docs", type=Path, default=DOCS, help="page whose table is regenerated (default %(default)s)")
    parser.add_argument("--no-docs", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    sys.stdout.write(build([args.results_dir], None if args.no_docs else args.docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
