"""Where the suite's time went: per test, per area, per `make test` step.

Three parts, all writing under tests/output/timing/:

* a pytest plugin (registered by tests/conftest.py): every test's duration (setup + call + teardown),
  its area, the worker that ran it and the CPU time of the containers it removed (their cgroups: emulated
  aarch64 runs inside them, so the test process's own CPU time would not show it); at the end of the run it prints the slowest tests, the seconds
  per area and how busy the workers were, and writes `pytest-<label>.json` (label: $APPENV_TIMING_LABEL,
  default "pytest");
* `python -m tests.timing run [--beside 'AREA:CMD']... AREA -- CMD...`: runs one step of `make test` (test bed,
  sanity, lint...), records its wall time, the CPU time of its own processes and the CPU the whole machine spent
  meanwhile (/proc/stat: that includes containers and emulated aarch64, which are not our child processes, and on
  a shared machine everyone else's work too), and exits with CMD's status; `--beside` steps run at the same
  time (their output to a log, printed when they end), each timed on its own;
* `python -m tests.timing report`: the steps and test areas together, printed and written to
  tests/output/timing.json. `python -m tests.timing reset` starts a new record.

Areas: unit, integration, emulated aarch64, molecule, faults (pytest), test bed, sanity, lint (steps).
"""

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "output"
TIMING_DIR = OUTPUT / "timing"
SLOWEST = 20


def area_of(nodeid, keywords):
    """The area a test's time is booked to (emulated aarch64 first: it is what costs the most CPU)."""
    if "arm64" in keywords:
        return "emulated aarch64"
    path = nodeid.split("::", 1)[0]
    if "/faults/" in path or "faults" in keywords:
        return "faults"
    if path.endswith("test_molecule.py"):
        return "molecule"
    if path.startswith("tests/integration/") or "integration" in keywords:
        return "integration"
    return "unit"


# --------------------------------------------------------------------------- pytest plugin
class TimingPlugin:
    """Collects test reports on the controlling process (with xdist, the workers' reports arrive here)."""

    def __init__(self, config):
        self.config = config
        self.tests = {}
        self.t0 = time.time()
        self.cpu0 = machine_cpu()
        self.label = os.environ.get("APPENV_TIMING_LABEL", "pytest")
        # Every test container logs its CPU time when removed (tests/testbed/docker_host.py); set before the xdist
        # workers start, so they inherit it. That is where emulated aarch64 spends: qemu runs inside the container.
        self.container_log = Path(os.environ.setdefault(
            "APPENV_CONTAINER_CPU_LOG", str(TIMING_DIR / ("containers-%s.jsonl" % self.label))))
        self.container_log.parent.mkdir(parents=True, exist_ok=True)
        self.container_log.write_text("")

    def pytest_runtest_logreport(self, report):
        entry = self.tests.setdefault(report.nodeid, {
            "nodeid": report.nodeid, "area": area_of(report.nodeid, report.keywords), "seconds": 0.0,
            "worker": _worker_of(report),
            "start": report.start, "stop": report.stop, "outcome": "passed"})
        entry["seconds"] += report.duration
        entry["start"] = min(entry["start"], report.start)
        entry["stop"] = max(entry["stop"], report.stop)
        if report.failed:
            entry["outcome"] = "failed"
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"

    def _container_cpu(self):
        """{nodeid: CPU seconds of the containers removed while it ran}."""
        per_test = {}
        try:
            lines = self.container_log.read_text().splitlines()
        except OSError:
            return per_test
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            nodeid = record.get("test", "").rsplit(" (", 1)[0]
            per_test[nodeid] = per_test.get(nodeid, 0.0) + (record.get("cpu_seconds") or 0.0)
        return per_test

    def summary(self):
        wall = time.time() - self.t0
        container_cpu = self._container_cpu()
        areas = {}
        for entry in self.tests.values():
            entry["container_cpu_seconds"] = round(container_cpu.get(entry["nodeid"], 0.0), 1)
            area = areas.setdefault(entry["area"], {"tests": 0, "seconds": 0.0, "container_cpu_seconds": 0.0})
            area["tests"] += 1
            area["seconds"] += entry["seconds"]
            area["container_cpu_seconds"] += entry["container_cpu_seconds"]
        workers = {}
        for entry in self.tests.values():
            w = workers.setdefault(entry["worker"], {"busy": 0.0, "first": entry["start"], "last": entry["stop"]})
            w["busy"] += entry["stop"] - entry["start"]
            w["first"] = min(w["first"], entry["start"])
            w["last"] = max(w["last"], entry["stop"])
        ends = sorted(w["last"] for w in workers.values())
        return {
            "wall_seconds": round(wall, 1),
            "machine_cpu_seconds": round(machine_cpu() - self.cpu0, 1) if self.cpu0 is not None else None,
            "areas": {k: {"tests": v["tests"], "seconds": round(v["seconds"], 1),
                          "container_cpu_seconds": round(v["container_cpu_seconds"], 1)}
                      for k, v in sorted(areas.items())},
            "workers": {k: {"busy_seconds": round(v["busy"], 1), "busy_share": round(v["busy"] / wall, 2) if wall else 0}
                        for k, v in sorted(workers.items())},
            # seconds at the end when only one worker still had a test (the others idle)
            "tail_seconds": round(ends[-1] - ends[-2], 1) if len(ends) > 1 else 0.0,
            "tests": sorted(self.tests.values(), key=lambda e: -e["seconds"]),
        }

    def pytest_terminal_summary(self, terminalreporter):
        if not self.tests:
            return
        data = self.summary()
        TIMING_DIR.mkdir(parents=True, exist_ok=True)
        (TIMING_DIR / ("pytest-%s.json" % self.label)).write_text(json.dumps(data, indent=1) + "\n")
        tr = terminalreporter
        tr.section("where the time went (%s)" % self.label)
        tr.write_line("slowest %d tests (setup + call + teardown; CPU of their containers):" % SLOWEST)
        for entry in data["tests"][:SLOWEST]:
            tr.write_line("  %7.1fs  %7.1fs CPU  %-17s %s" % (
                entry["seconds"], entry["container_cpu_seconds"], entry["area"], entry["nodeid"]))
        tr.write_line("per area (test seconds summed over workers; CPU of their containers):")
        for area, v in data["areas"].items():
            tr.write_line("  %7.1fs  %7.1fs CPU  %-17s %d tests" % (
                v["seconds"], v["container_cpu_seconds"], area, v["tests"]))
        tr.write_line("wall %.1fs; %s" % (data["wall_seconds"], ", ".join(
            "worker %s busy %.0f%%" % (k, 100 * v["busy_share"]) for k, v in data["workers"].items())))
        if data["machine_cpu_seconds"] is not None and data["wall_seconds"]:
            tr.write_line("machine CPU %.0fs = %.2f cores on average (includes containers; and other users)"
                          % (data["machine_cpu_seconds"], data["machine_cpu_seconds"] / data["wall_seconds"]))
        if len(data["workers"]) > 1:
            tr.write_line("tail: %.1fs with one worker left" % data["tail_seconds"])


def _worker_of(report):
    node = getattr(report, "node", None)  # set by pytest-xdist on the controller
    gateway = getattr(node, "gateway", None)
    return getattr(gateway, "id", None) or "main"


def machine_cpu():
    """CPU seconds the whole machine has spent busy since boot (None where /proc/stat is missing)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- make test steps
def _record(area, argv, rc, wall, own_cpu, cpu0, beside=None):
    record = {"area": area, "command": " ".join(argv), "rc": rc, "wall_seconds": round(wall, 1), "beside": beside,
              "own_cpu_seconds": round(own_cpu, 1),
              "machine_cpu_seconds": round(machine_cpu() - cpu0, 1) if cpu0 is not None else None}
    with open(TIMING_DIR / "steps.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    print("[timing] %s: %.1fs wall, %.1fs CPU of its own processes, %s%s" % (
        area, wall, own_cpu,
        "%.1fs machine CPU meanwhile" % record["machine_cpu_seconds"] if cpu0 is not None else "machine CPU unknown",
        "" if rc == 0 else "; exit %d" % rc), flush=True)


def _start(area, argv, log=None):
    env = dict(os.environ, APPENV_TIMING_LABEL=area.replace(" ", "-"))
    out = open(log, "wb") if log else None
    try:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT if out else None)
    finally:
        if out:
            out.close()
    return {"area": area, "argv": argv, "proc": proc, "log": log, "t0": time.monotonic(), "cpu0": machine_cpu()}


def run_step(area, argv, beside=()):
    """Run argv (output to the terminal) and, at the same time, each (area, argv) of beside (output to
    tests/output/timing/<area>.log, printed once it ends: so the two outputs do not mix). Each is timed on its
    own; the exit status is the first non-zero one."""
    TIMING_DIR.mkdir(parents=True, exist_ok=True)
    steps = [_start(area, argv)]
    steps += [_start(b_area, b_argv, TIMING_DIR / ("%s.log" % b_area.replace(" ", "-"))) for b_area, b_argv in beside]
    running = {step["proc"].pid: step for step in steps}
    while running:
        pid, status, usage = os.wait4(-1, 0)  # whichever ends first: each step's own time and CPU
        step = running.pop(pid, None)
        if step is None:
            continue
        step["rc"] = os.waitstatus_to_exitcode(status)
        step["proc"].returncode = step["rc"]
        _record(step["area"], step["argv"], step["rc"], time.monotonic() - step["t0"],
                usage.ru_utime + usage.ru_stime, step["cpu0"], beside=area if step is not steps[0] else None)
    for step in steps[1:]:  # after the main step's output, not inside it
        print("\n== %s (run beside %s; log %s) ==" % (step["area"], area, step["log"]), flush=True)
        sys.stdout.write(Path(step["log"]).read_text(errors="replace"))
        sys.stdout.flush()
    return next((step["rc"] for step in steps if step["rc"] != 0), 0)


def report():
    steps = []
    if (TIMING_DIR / "steps.jsonl").exists():
        steps = [json.loads(line) for line in (TIMING_DIR / "steps.jsonl").read_text().splitlines() if line.strip()]
    pytest_runs = {p.stem[len("pytest-"):]: json.loads(p.read_text()) for p in sorted(TIMING_DIR.glob("pytest-*.json"))}
    areas = {}
    for run in pytest_runs.values():
        for area, v in run["areas"].items():
            a = areas.setdefault(area, {"tests": 0, "test_seconds": 0.0, "container_cpu_seconds": 0.0})
            a["tests"] += v["tests"]
            a["test_seconds"] = round(a["test_seconds"] + v["seconds"], 1)
            a["container_cpu_seconds"] = round(a["container_cpu_seconds"] + v.get("container_cpu_seconds", 0.0), 1)
    slowest = sorted((t for run in pytest_runs.values() for t in run["tests"]), key=lambda t: -t["seconds"])[:SLOWEST]
    data = {"steps": steps, "test_areas": areas, "slowest_tests": slowest}
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "timing.json").write_text(json.dumps(data, indent=1) + "\n")
    print("\n== where make test's time went (tests/output/timing.json) ==")
    print("steps (wall / CPU of own processes / machine CPU):")
    mains = {s["area"]: s["wall_seconds"] for s in steps if not s.get("beside")}
    longer = {}  # a step run beside another that outlasted it adds the difference
    for s in steps:
        if s.get("beside") in mains:
            longer[s["beside"]] = max(longer.get(s["beside"], 0.0), s["wall_seconds"] - mains[s["beside"]])
    total = sum(mains.values()) + sum(longer.values())
    for s in steps:
        status = "ok" if s["rc"] == 0 else "exit %d" % s["rc"]
        beside = " (beside %s)" % s["beside"] if s.get("beside") else ""
        print("  %-14s %7.1fs %7.1fs %7ss  %s%s" % (
            s["area"], s["wall_seconds"], s["own_cpu_seconds"], s["machine_cpu_seconds"], status, beside))
    print("  %-14s %7.1fs (end to end)" % ("total", total))
    print("test areas (test seconds summed over workers / CPU of their containers):")
    for area, v in sorted(areas.items(), key=lambda kv: -kv[1]["test_seconds"]):
        print("  %-17s %7.1fs %7.1fs  %d tests" % (area, v["test_seconds"], v["container_cpu_seconds"], v["tests"]))
    print("slowest tests:")
    for t in slowest[:10]:
        print("  %7.1fs  %-17s %s" % (t["seconds"], t["area"], t["nodeid"]))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reset"]:
        for p in TIMING_DIR.glob("*"):
            p.unlink()
        return 0
    if argv[:1] == ["report"]:
        return report()
    if argv[:1] == ["run"]:
        beside, rest = [], argv[1:]
        while rest[:1] == ["--beside"] and len(rest) >= 2 and ":" in rest[1]:
            b_area, command = rest[1].split(":", 1)
            beside.append((b_area, shlex.split(command)))
            rest = rest[2:]
        if len(rest) >= 3 and rest[1] == "--":
            return run_step(rest[0], rest[2:], beside)
    print("usage: python -m tests.timing reset | report | run [--beside 'AREA:CMD']... AREA -- CMD...",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
