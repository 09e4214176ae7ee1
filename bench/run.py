"""`make bench`: run the scenarios side by side, write every sample, regenerate docs/performance.md.

    python -m bench.run [--quick] [--only 5,6] [--set hermetic,webapp,large] [--repetitions N]
                        [--results-dir DIR] [--docs PAGE | --no-docs]

Each repetition runs "us" and the alternatives of a scenario one after the other, in the opposite order
on every other repetition. --quick is a smoke run for CI: one repetition, the smallest sets, no source
builds (an earlier measurement is reused when there is one). Scenarios that take a package set (1-4,
11: bench/deps_set.py) run once per set: all of theirs in a full run, the hermetic one with --quick,
those of --set when given; a set whose registry cannot be reached is skipped with a log line.
"""

import argparse
import sys
import traceback
from pathlib import Path

from bench import deps_set, report, results
from bench.context import Context
from bench.registry import Skipped, selected


def _ids(text):
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected scenario ids like 5,6, got %r" % text) from None


def _sets(text):
    try:
        return [deps_set.check(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.partition("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, smallest sets, no source builds")
    parser.add_argument("--only", type=_ids, default=None, metavar="IDS", help="scenario ids, e.g. 5,6")
    parser.add_argument("--set", dest="sets", type=_sets, default=None, metavar="SETS",
                        help="package sets of scenarios 1-4 and 11: %s (default: all; hermetic with --quick)"
                        % ",".join(deps_set.SETS))
    parser.add_argument("--repetitions", type=int, default=None, metavar="N",
                        help="repetitions per scenario (default 5; 1 with --quick)")
    parser.add_argument("--results-dir", type=Path, default=results.RESULTS_DIR,
                        help="where the results file is written (default %(default)s)")
    parser.add_argument("--docs", type=Path, default=report.DOCS, help="page whose table is regenerated")
    parser.add_argument("--no-docs", action="store_true", help="leave the docs page alone")
    args = parser.parse_args(argv)
    if args.repetitions is None:
        args.repetitions = 1 if args.quick else 5
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    return args


def run(scenarios, ctx, document):
    """Run each scenario in turn (once per package set), appending its samples to document; a failing
    scenario is recorded in `errors`, a skipped one in `skipped`, and the others still run."""
    for scenario in scenarios:
        for package_set in ctx.sets_of(scenario):
            key = str(scenario.id) if package_set is None else "%d/%s" % (scenario.id, package_set)
            with ctx.scenario_scope(scenario, package_set):
                ctx.log("%s (%s%d repetition(s)%s)" % (scenario.title, "set %s, " % package_set if package_set else "",
                                                       ctx.repetitions, ", quick" if ctx.quick else ""))
                try:
                    for sample in scenario.run(ctx):
                        data = sample.as_dict()
                        if package_set:
                            data.setdefault("set", package_set)
                        document["samples"].append(data)
                except Skipped as exc:
                    ctx.log("skipped: %s" % exc)
                    document.setdefault("skipped", {})[key] = str(exc)[-2000:]
                except Exception as exc:  # pylint: disable=broad-exception-caught  # recorded, then the next one
                    ctx.log("failed: %s" % exc)
                    traceback.print_exc()
                    document["errors"][key] = str(exc)[-2000:]
    return document


def main(argv=None):
    args = parse_args(argv)
    try:
        scenarios = selected(args.only)
    except KeyError as exc:
        print("error: %s" % exc.args[0], file=sys.stderr)
        return 2
    dirs = [args.results_dir] + ([results.RESULTS_DIR] if args.results_dir != results.RESULTS_DIR else [])
    ctx = Context(repetitions=args.repetitions, quick=args.quick, results_dirs=dirs, sets=args.sets)
    document = results.new_document(args.quick, args.repetitions, [scenario.id for scenario in scenarios])
    try:
        run(scenarios, ctx, document)
    finally:
        ctx.close()
        results.finish(document)
        path = results.write(args.results_dir, document)
        print("results: %s (%d samples)" % (path, len(document["samples"])), file=sys.stderr)
    sys.stdout.write(report.build([args.results_dir], None if args.no_docs else args.docs))
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
