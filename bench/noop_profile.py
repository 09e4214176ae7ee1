"""Where a no-op task's controller milliseconds go (issue 21): a small profile, reproducible on the test bed.

    python -m bench.noop_profile [--tasks N] [--rounds R] [--collections DIR] [--cprofile DIR]

Starts one test-bed host (bookworm x86_64 container, docker connection, pipelining on, as the tests run), converges
the four layers once, then runs, per round, a play of N identical no-op tasks of each module and of
ansible.builtin.stat (the floor). Each ansible-playbook is this file's --probe mode: Ansible's own, with every task's
worker process reporting its CPU from fork to its result, the part of it in ActionBase._configure_module (where the
AnsiballZ payload is built: a scan of every module_util the module can import on a module's first task in a run,
Ansible's per-run cache after) and the payload's size. Printed: per module, the first task's and the other tasks'
worker CPU (medians over the rounds) and the payload. --collections runs another checkout of the collection (its
ansible_collections parent directory), e.g. the main branch's, for a before/after; --cprofile DIR also writes each
worker's cProfile there (slower: read its proportions, not its times).
"""

import argparse
import base64
import cProfile
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

MODULES = ("ansible.builtin.stat", "appenv.python.python_runtime", "appenv.python.pip_tooling",
           "appenv.python.app_dependencies", "appenv.python.pyc_compile")


def _probe(log, profile_dir, argv):
    """ansible-playbook argv, each worker appending {action, cpu_ms, build_ms, payload} to log (a JSON line)."""
    from ansible.executor import module_common, task_executor
    from ansible.plugins.action import ActionBase

    seen = {"build_ms": 0.0, "payload": None}
    configure = ActionBase._configure_module

    def timed_configure(self, *args, **kwargs):
        started = time.process_time()
        try:
            return configure(self, *args, **kwargs)
        finally:
            seen["build_ms"] += (time.process_time() - started) * 1000

    dump = module_common._CachedModule.dump  # a payload built (not read from the run's cache)

    def sized_dump(self, path):
        data = self.zip_data
        raw = data if isinstance(data, bytes) and data.startswith(b"PK") else base64.b64decode(data)
        entries = zipfile.ZipFile(io.BytesIO(raw)).infolist()
        seen["payload"] = {"zip_kb": round(len(raw) / 1024), "files": len(entries),
                           "source_kb": round(sum(entry.file_size for entry in entries) / 1024)}
        return dump(self, path)

    run = task_executor.TaskExecutor.run  # in the worker, before it sends the result (and may be ended)

    def probed_run(self):
        profile = cProfile.Profile() if profile_dir else None
        try:
            return profile.runcall(run, self) if profile else run(self)
        finally:
            if profile:
                profile.dump_stats(os.path.join(profile_dir, "worker-%d.prof" % os.getpid()))
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"action": self._task.action, "cpu_ms": time.process_time() * 1000,
                                         "build_ms": seen["build_ms"], "payload": seen["payload"]}) + "\n")

    ActionBase._configure_module = timed_configure
    module_common._CachedModule.dump = sized_dump
    task_executor.TaskExecutor.run = probed_run
    from ansible.cli.playbook import main as playbook_main
    sys.argv = ["ansible-playbook"] + argv
    return playbook_main()


def _warm_host(stack):
    """A host with the four layers converged once; returns (host, {module: its no-op task's arguments})."""
    from tests.integration import harness
    from tests.integration.hosts import RuntimeMirror, make_package_index, runtime_args, start_host
    from tests.testbed import docker_host, mirror

    docker_host.ensure_dockerd()
    image = docker_host.ensure_image("bookworm", "amd64")
    runtime_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="noop-mirror-"))
    index_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="noop-index-"))
    runtime_mirror = RuntimeMirror(runtime_root, stack.enter_context(mirror.serve(runtime_root)))
    index = make_package_index(index_root, stack.enter_context(mirror.serve(index_root)), ["x86_64"])
    host = start_host(image, "x86_64", network="host")
    stack.callback(host.container.remove)
    host.sh("mkdir -p /srv/app/pkg && printf 'demo-alpha==1.0\\ndemo-delta\\n' > /srv/app/requirements.txt"
            " && echo 'X = 1' > /srv/app/pkg/__init__.py && echo 'import pkg' > /srv/app/main.py")
    args = {
        "ansible.builtin.stat": {"path": "/srv/app/requirements.txt"},
        "appenv.python.python_runtime": runtime_args(host, runtime_mirror, "3.11"),
        "appenv.python.pip_tooling": {"index_url": index.simple_url},
        "appenv.python.app_dependencies": {"project_dir": "/srv/app", "index_url": index.simple_url},
        "appenv.python.pyc_compile": {"paths": ["/srv/app"], "interpreter": "/opt/appenv/python/bin/python3.11"},
    }
    for result in harness.run_tasks(host, [(module, args[module]) for module in MODULES[1:]]):
        harness.assert_ok(result)
    return host, args


def _play(host, module, args, tasks, collections, profile_dir, workdir):
    """Worker reports of one play of `tasks` no-op tasks of module (each checked: not changed, not failed)."""
    from tests.collection_path import REPO_ROOT
    from tests.integration import harness

    play = [{"hosts": "all", "gather_facts": False,
             "tasks": [{"name": "no-op %d" % number, module: args} for number in range(tasks)]}]
    (workdir / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (workdir / "inventory.ini").write_text(harness.inventory_for([host]))
    log = workdir / "workers.jsonl"
    log.write_text("")
    argv = [sys.executable, "-m", "bench.noop_profile", "--probe", str(log)]
    if profile_dir:
        argv += ["--cprofile", str(profile_dir)]
    env = harness.ansible_env({"ANSIBLE_COLLECTIONS_PATH": str(collections)} if collections else None)
    proc = subprocess.run(argv + ["-i", str(workdir / "inventory.ini"), str(workdir / "play.yml")], env=env,
                          cwd=str(REPO_ROOT), capture_output=True, text=True, check=False)
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    for result in harness.task_results(report, host.name):
        if result.get("failed") or result.get("changed"):
            raise SystemExit("%s: not a no-op: %s" % (module, json.dumps(result)[:2000]))
    return [json.loads(line) for line in log.read_text().splitlines()]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:
        profile_dir = None
        if argv[2:3] == ["--cprofile"]:
            profile_dir, argv = argv[3], argv[:2] + argv[4:]
        return _probe(argv[1], profile_dir, argv[2:])
    parser = argparse.ArgumentParser(prog="python -m bench.noop_profile", description=__doc__.partition("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20, help="no-op tasks per play (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="plays per module, interleaved (default 3)")
    parser.add_argument("--collections", type=Path, help="the ansible_collections parent directory to run")
    parser.add_argument("--cprofile", type=Path, metavar="DIR", help="also write each worker's cProfile here")
    options = parser.parse_args(argv)
    import contextlib

    from tests.collection_path import ensure_collection_path
    ensure_collection_path()
    reports = {module: [] for module in MODULES}
    with contextlib.ExitStack() as stack:
        host, args = _warm_host(stack)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="noop-profile-")))
        for round_number in range(options.rounds):
            for module in MODULES:
                profile_dir = None
                if options.cprofile:
                    profile_dir = options.cprofile / ("%s-%d" % (module.rsplit(".", 1)[-1], round_number))
                    profile_dir.mkdir(parents=True, exist_ok=True)
                reports[module].append(_play(host, module, args[module], options.tasks, options.collections,
                                             profile_dir, workdir))
    print("load average %.2f; %d tasks a play, %d rounds; worker CPU in ms (median over rounds)"
          % (os.getloadavg()[0], options.tasks, options.rounds))
    row = "%-30s %9s %9s %9s %8s %6s %9s"
    print(row % ("module", "first", "of which", "others", "payload", "files", "source"))
    print(row % ("", "task", "payload", "(mean)", "zip KB", "", "KB"))
    for module, plays in reports.items():
        first = statistics.median(play[0]["cpu_ms"] for play in plays)
        build = statistics.median(play[0]["build_ms"] for play in plays)
        others = float("nan")
        if options.tasks > 1:
            others = statistics.median(statistics.mean(report["cpu_ms"] for report in play[1:]) for play in plays)
        payload = next((play[0]["payload"] for play in plays if play[0]["payload"]), {})
        print(row % (module, "%.0f" % first, "%.0f" % build, "%.1f" % others, payload.get("zip_kb", "?"),
                     payload.get("files", "?"), payload.get("source_kb", "?")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
