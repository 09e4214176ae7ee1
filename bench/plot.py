"""PNG plots of results: time against the number of hosts, for scenarios whose samples record `hosts`.

    python -m bench.plot --scenario 8 [--results-dir DIR] [--out docs/images/scenario-8.png]

Needs matplotlib (requirements-dev.txt); it draws without a display.
"""

import argparse
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from bench import results


def series_of(variant):
    """The line a variant belongs to: its name without a trailing host count ("clean converge, 4 hosts")."""
    return re.sub(r",? \d+ hosts?$", "", variant)


def by_hosts(samples, scenario):
    """{series: [(hosts, median seconds, min, max), ...] sorted by hosts} for samples of scenario with `hosts`
    (a series is a variant without its host count, see `series_of`)."""
    grouped = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        if sample["scenario"] == scenario and sample.get("hosts") is not None:
            grouped[series_of(sample["variant"])][int(sample["hosts"])].append(sample["seconds"])
    return {variant: [(hosts, statistics.median(times), min(times), max(times)) for hosts, times in sorted(points.items())]
            for variant, points in sorted(grouped.items())}


def plot_hosts(samples, scenario, out, title=None):
    """Draw median seconds against hosts (min-max as error bars), one line per series, and dotted the time
    of one host times the hosts (linear growth) where a series has one; write PNG to out."""
    import matplotlib  # pylint: disable=import-outside-toplevel  # only plotting needs it

    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel

    series = by_hosts(samples, scenario)
    if not series:
        raise ValueError("no samples of scenario %s record a number of hosts" % scenario)
    figure, axes = pyplot.subplots(figsize=(7, 4.2), dpi=120)
    for variant, points in series.items():
        hosts = [point[0] for point in points]
        medians = [point[1] for point in points]
        spread = [[m - point[2] for m, point in zip(medians, points)], [point[3] - m for m, point in zip(medians, points)]]
        line = axes.errorbar(hosts, medians, yerr=spread, marker="o", capsize=3, label=variant)
        if hosts[0] == 1 and len(hosts) > 1:
            axes.plot(hosts, [medians[0] * count for count in hosts], linestyle=":", color=line[0].get_color(),
                      label="%s: 1 host × hosts" % variant)
    axes.set_xlabel("hosts")
    axes.set_ylabel("seconds (median; bars: min-max)")
    axes.set_title(title or "Scenario %s: time vs number of hosts" % scenario)
    axes.set_xticks(sorted({point[0] for points in series.values() for point in points}))
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    pyplot.close(figure)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__.partition("\n\n")[0])
    parser.add_argument("--scenario", type=int, required=True)
    parser.add_argument("--results-dir", type=Path, default=results.RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=None, help="default docs/images/scenario-<id>.png")
    args = parser.parse_args(argv)
    for document in results.load_all(args.results_dir):
        if by_hosts(document["samples"], args.scenario):
            out = args.out or results.REPO_ROOT / "docs" / "images" / ("scenario-%d.png" % args.scenario)
            print(plot_hosts(document["samples"], args.scenario, out, title=None))
            return 0
    print("error: no results file has samples of scenario %d with a number of hosts" % args.scenario, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
