"""Scenario 11 (issue "layer cache"): a fresh host with a warm layer cache vs a clean install.

Each repetition starts new bookworm x86_64 hosts. The play installs the runtime, pip_tooling (uv) and
a package set of bench/deps_set.py into a venv (`hermetic`: 48 synthetic wheels of four modules and 3
sdists; `webapp`: Django, gunicorn, psycopg, whitenoise; `large`: the web app plus numpy, pandas,
scipy, scikit-learn and matplotlib; the last two from the registry, pinned):

- clean install: a fresh host, no layer cache (the wheel cache is warm: the cost is installing);
- warm layer cache: a fresh host whose `/cache` volume holds the layers a previous host built, so the
  runtime, the uv venv and the dependencies are restored (sha256-checked) instead of installed;
- the floor: a fresh host, the same cache volume, and a play of three `shell` tasks that unpack the same
  entries with plain `tar -xf` (no lookup, no checks, no sha256, no fingerprint): what any restore driven
  by Ansible costs here at the least, so `clean / floor` bounds the speed-up a layer cache can show.
"""

import glob
import json
import os
import tempfile

from bench import deps_set
from bench.context import RUNTIME_VERSION
from bench.registry import COST, Comparison, at_least, register
from tests.integration import harness

APP = "/srv/bench-app"
CLEAN = "clean install, fresh host"
WARM = "warm layer cache, fresh host"
FLOOR = "plain tar of the same entries, fresh host"
# Which task of the play unpacks an entry of each layer kind (the order inside a task is the order of KINDS).
# Entries are signed (HMAC): restores check the signature, as a pipeline's do.
HMAC_KEY = "bench-scenario-11-hmac-key"
KINDS = (("python_runtime", "runtime"), ("pip_tooling", "tools"), ("tool_venv", "tools"),
         ("app_dependencies", "dependencies"))


def _play(runtime_mirror, index_url, cache):
    extra = {"layer_cache": {"path": "/cache", "hmac_key": HMAC_KEY}} if cache else {}
    return [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "runtime", "appenv.python.python_runtime": dict(
            {"version": "3.11", "mirror": runtime_mirror.base_url, "release": runtime_mirror.tag}, **extra)},
        {"name": "tools", "appenv.python.pip_tooling": dict({"index_url": index_url, "tools": [{"name": "uv"}]},
                                                            **extra)},
        {"name": "dependencies", "appenv.python.app_dependencies": dict(
            {"project_dir": APP, "location": "venv", "dest": "/opt/bench/venv", "index_url": index_url,
             "cache_dir": "/var/cache/appenv"}, **extra)},
    ]}]


# Switched layers are built and cached as a version beside their dest (<dest>.appenv-versions/<id>), dest a link.
SWITCHED = ".appenv-versions/"


def _floor_play(cache, mount):
    """Three shell tasks unpacking the cache's entries (found in the host directory `cache`, mounted at mount)
    with plain tar into the paths they were built for."""
    scripts = dict((task, []) for _kind, task in KINDS)
    metas = [json.load(open(path)) for path in sorted(glob.glob(os.path.join(cache, "*", "*.json")))]
    for kind, task in KINDS:
        for meta in (meta for meta in metas if meta["kind"] == kind):
            archive = "%s/%s/%s.tar" % (mount, meta["key"][:2], meta["key"])
            scripts[task].append("mkdir -p %s && tar -xf %s -C %s" % (meta["path"], archive, meta["path"]))
            if SWITCHED in meta["path"]:  # a switched layer (venv, target, tool venv): its version, linked at dest
                dest = meta["path"].split(SWITCHED)[0]
                scripts[task].append("ln -s %s %s" % (os.path.relpath(meta["path"], os.path.dirname(dest)), dest))
    if any(meta.get("compression") != "none" for meta in metas) or not all(scripts.values()):
        raise RuntimeError("the cache does not hold one plain tar entry of each layer: %s"
                           % [(meta["kind"], meta.get("compression")) for meta in metas])
    return [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": task, "ansible.builtin.shell": " && ".join(lines)} for task, lines in scripts.items()]}]


@register(
    11, "Fresh host: warm layer cache vs clean install",
    Comparison(WARM, CLEAN, "≥ 5× (webapp), ≥ 10× (large)",
               met_on=((deps_set.WEBAPP, at_least(5)), (deps_set.LARGE, at_least(10)))),
    # The reference rows: what our checks cost over plain tar, and the most any Ansible restore could gain here.
    Comparison(WARM, FLOOR, ratio=COST),
    Comparison(FLOOR, CLEAN),
    sets=(deps_set.HERMETIC, deps_set.WEBAPP, deps_set.LARGE),
)
def warm_cache(ctx):
    runtime_mirror = ctx.runtime_mirror()
    package_set = ctx.package_set or deps_set.HERMETIC
    with deps_set.served_index(ctx.quick, package_set, ctx.log) as (index_url, requirements), \
            tempfile.TemporaryDirectory(prefix="appenv-bench-cache-") as cache:
        runtime_mirror.ensure(RUNTIME_VERSION, "x86_64")
        volume = [(cache, "/cache")]
        requirements_text = "\n".join(requirements) + "\n"

        def fresh(with_cache):
            host = ctx.host(volumes=volume if with_cache else ())
            host.sh("mkdir -p %s && printf '%%s' '%s' > %s/requirements.txt" % (APP, requirements_text, APP))
            return host

        def run(host, with_cache, label, play=None):
            report = harness.run_playbook(play or _play(runtime_mirror, index_url, with_cache), [host])
            if report["_rc"] != 0:
                raise RuntimeError("%s failed: %s" % (label, report["_stderr"][-2000:]))
            tasks = harness.task_results(report, host.name)
            # The modules' actions and each task's seconds: where the time of the play goes.
            return {"seconds": report["_seconds"], "actions": [result.get("layer_action") for result in tasks],
                    "tasks": dict((result["_task"], round(result["_task_seconds"], 3)) for result in tasks)}

        # Fill the cache once (not timed).
        run(fresh(True), True, "filling the cache")

        def clean():
            return {CLEAN: run(fresh(False), False, CLEAN)}

        def warm():
            measured = run(fresh(True), True, WARM)
            if "created" in measured["actions"]:
                ctx.log("warm run built something: %s" % measured["actions"])
            return {WARM: measured}

        floor_play = _floor_play(cache, "/cache")

        def floor():
            host = fresh(True)
            measured = run(host, True, FLOOR, floor_play)
            # Not timed: what plain tar unpacked is a working environment (the same the warm run restores).
            host.sh("/opt/bench/venv/bin/python -c 'import sys' && /opt/appenv/tools/uv/bin/uv --version >/dev/null")
            return {FLOOR: measured}

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", warm), ("alternative", clean), ("alternative", floor)])
