"""Drives real ansible-playbook runs against real hosts and returns module results.

Every call writes a small playbook, runs ``ansible-playbook`` with the standard JSON
stdout callback (``ansible.posix.json``, what CI pipelines parse) and hands back the
task's result dict for each host, so tests assert on exactly what a user's play, or
a pipeline reading its results by machine, would see (``changed``, ``layer_action``,
``reasons``, ``commands``, ``msg``). The callback writes the task's module name into
a result's ``action`` (where the modules returned their decision until 0.1).
"""

import ast
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from tests.collection_path import COLLECTIONS_DIR, REPO_ROOT, ensure_collection_path

ensure_collection_path()
VENV_BIN = Path(sys.executable).parent


class PlayFailed(AssertionError):
    pass


def inventory_for(hosts, become_user=None):
    lines = ["[targets]"]
    for host in hosts:
        lines.append(host.inventory_line())
    lines.append("[targets:vars]")
    lines.append("ansible_python_interpreter=/usr/bin/python3")
    if become_user:
        lines.append("ansible_become=true")
        lines.append("ansible_become_user=%s" % become_user)
        lines.append("ansible_become_method=su")
    return "\n".join(lines) + "\n"


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_DIR),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        # Modules are piped to the host's Python: no temporary files, so become to an unprivileged app user
        # needs neither setfacl nor world-readable temporary files. The fault suite turns it off
        # (APPENV_TEST_PIPELINING=False): its kills find the module process by its AnsiballZ file.
        "ANSIBLE_PIPELINING": os.environ.get("APPENV_TEST_PIPELINING", "True"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
        "PATH": str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra or {})
    return env


def run_playbook(playbook, hosts, check=False, diff=False, extra_vars=None, become_user=None,
                 env=None, timeout=1800, tags=None):
    """Run a playbook (a list of plays, or a path) against hosts; return the parsed JSON report."""
    with tempfile.TemporaryDirectory(prefix="appenv-play-") as tmp:
        tmp = Path(tmp)
        (tmp / "inventory.ini").write_text(inventory_for(hosts, become_user))
        if isinstance(playbook, (str, Path)) and Path(playbook).exists():
            play_path = Path(playbook)
        elif isinstance(playbook, str):
            play_path = playbook  # a collection playbook by name, e.g. appenv.python.image
        else:
            play_path = tmp / "play.yml"
            play_path.write_text(yaml.safe_dump(playbook, sort_keys=False))
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(tmp / "inventory.ini"), str(play_path)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if tags:
            argv += ["--tags", tags]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        started = time.monotonic()
        proc = subprocess.run(argv, env=ansible_env(env), capture_output=True, text=True, timeout=timeout,
                              cwd=str(REPO_ROOT), check=False)
        seconds = time.monotonic() - started
    try:
        report = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        raise PlayFailed("ansible-playbook printed no JSON report (rc %s):\n%s\n%s"
                         % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    report["_rc"] = proc.returncode
    report["_stderr"] = proc.stderr
    report["_seconds"] = seconds
    return report


def _task_seconds(task):
    """Seconds from the task's start to its (last) result, as the JSON callback records them."""
    duration = task["task"].get("duration", {})
    try:
        start, end = (datetime.fromisoformat(duration[key].rstrip("Z")) for key in ("start", "end"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


# -- every key a module returns is documented -------------------------------------------------------
# What Ansible, the JSON callback or this harness put into a task result beside the module's own keys (Ansible's
# common return values, loop and retry keys, a module that crashed): a module's RETURN need not list them.
ANSIBLE_RESULT_KEYS = frozenset((
    "changed", "failed", "msg", "warnings", "deprecations", "diff", "invocation", "skipped", "skip_reason",
    "exception", "module_stdout", "module_stderr", "rc", "unreachable", "censored", "results", "item",
    "ansible_loop_var", "ansible_index_var", "ansible_loop", "attempts", "failed_when_result", "changed_when_result",
    "ansible_facts", "false_condition", "action", "_task", "_task_seconds", "_task_span", "_seconds"))


# What AnsibleModule.exit_json adds about the file or directory a result names as `dest` or `path` (add_path_info):
# each module's RETURN says so in its `dest` entry rather than documenting Ansible's keys one by one.
PATH_INFO_KEYS = frozenset(("uid", "gid", "owner", "group", "mode", "state", "size", "secontext"))


@functools.lru_cache(maxsize=None)
def returned_keys(module):
    """The top-level keys an appenv.python module's RETURN documents (module: its short name)."""
    tree = ast.parse((REPO_ROOT / "plugins" / "modules" / (module + ".py")).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ["RETURN"]:
            return frozenset(yaml.safe_load(node.value.value) or {})
    raise AssertionError("%s has no RETURN" % module)


def undocumented_keys(module, result):
    """The keys of a result of module (a task's module name, e.g. appenv.python.pip_tooling) that neither its
    RETURN nor Ansible documents; [] for a module of another collection. A loop's items are checked each."""
    if not isinstance(module, str) or not module.startswith("appenv.python."):
        return []
    items = result.get("results") if isinstance(result.get("results"), list) else [result]
    documented = returned_keys(module.rsplit(".", 1)[-1]) | ANSIBLE_RESULT_KEYS
    undocumented = set()
    for item in items:
        allowed = documented | (PATH_INFO_KEYS if "dest" in item or "path" in item else frozenset())
        undocumented.update(key for key in item if not key.startswith("_ansible_") and key not in allowed)
    return sorted(undocumented)


def task_results(report, host_name):
    """Results of every task of every play for one host, in order (`_task`: its name, `_task_seconds`).

    Every result of an appenv.python module is checked against its RETURN: a key the module returns and does not
    document fails the test that ran it."""
    results = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            if host_name in task.get("hosts", {}):
                entry = dict(task["hosts"][host_name])
                # The JSON callback puts the task's module name into action.
                undocumented = undocumented_keys(entry.get("action"), entry)
                assert not undocumented, "%s returned keys its RETURN does not document: %s" % (
                    entry.get("action"), undocumented)
                entry["_task"] = task["task"]["name"]
                entry["_task_seconds"] = _task_seconds(task)
                duration = task["task"].get("duration", {})
                entry["_task_span"] = (duration.get("start"), duration.get("end"))
                results.append(entry)
    return results


def run_task(host, module, args, check=False, diff=False, become_user=None, env=None, vars=None, environment=None):
    """Run one module task on one host; return its result dict (failures included, not raised).

    env: variables of ansible-playbook on the controller; environment: the play's ``environment:``,
    the variables the module itself runs with on the host.
    """
    return run_tasks(host, [(module, args)], check=check, diff=diff, become_user=become_user, env=env, vars=vars,
                     environment=environment)[0]


def run_tasks(host, tasks, check=False, diff=False, become_user=None, env=None, vars=None, environment=None):
    """Run several module tasks, in order, in one play (one ansible-playbook start: ~1.5 s of CPU saved per task);
    tasks: [(module, args)]. Returns their result dicts in order (failures included, not raised: a failed task
    does not stop the next one, so assert on the results in order)."""
    play_tasks = [{"name": "task under test %d" % number, module: args, "ignore_errors": True}
                  for number, (module, args) in enumerate(tasks)]
    play = [{"hosts": "all", "gather_facts": False, "vars": vars or {}, "tasks": play_tasks}]
    if environment:
        play[0]["environment"] = environment
    report = run_playbook(play, [host], check=check, diff=diff, become_user=become_user, env=env)
    results = task_results(report, host.name)
    if len(results) != len(tasks):
        shown = json.dumps(report)[:3000] + report["_stderr"][-3000:]
        raise PlayFailed("%d results for %d tasks on %s:\n%s" % (len(results), len(tasks), host.name, shown))
    for result in results:
        result["_seconds"] = report["_seconds"]
    return results


def play_stats(report, host_name):
    return report.get("stats", {}).get(host_name, {})


def assert_ok(result):
    if result.get("failed") or result.get("unreachable"):
        raise PlayFailed("task failed:\n%s" % (result.get("msg") or json.dumps(result)[:4000]))
    return result


def programs_started(result):
    """The names of the programs a module result says it started (its commands), in order."""
    return [os.path.basename(command["argv"][0]) for command in result.get("commands", [])]


def assert_restored_without_building(result, what="the interpreter, an installer or a compiler"):
    """A restore from the layer cache starts nothing but tar (which writes the checked archive)."""
    assert result["layer_action"] == "restored", result.get("reasons")
    others = [name for name in programs_started(result) if name != "tar"]
    assert others == [], "a restore must not start %s: %s" % (what, result["commands"])


def error_of(result):
    """The titled error of a failed result (title, cause, fault, fixes all present; no traceback)."""
    assert result.get("failed"), "expected a failure, got %s" % json.dumps(result)[:2000]
    error = result.get("error") or {}
    assert error.get("title") and error.get("cause") and error.get("fault") and error.get("fixes"), result
    assert "Traceback" not in result.get("msg", "")
    return error


# -- check mode predicts the real run ---------------------------------------------------------------
def decisions(report, host_name):
    """Per task, in order, what a run decided on one host: (task, failed, skipped, changed, action, reasons,
    error code). Raises when the play reached no host or ran no task there (a play that did nothing
    proves nothing)."""
    stats = play_stats(report, host_name)
    if not stats or stats.get("unreachable"):
        raise PlayFailed("the play did not reach %s: %s\n%s" % (host_name, stats, report.get("_stderr", "")[-3000:]))
    rows = []
    for result in task_results(report, host_name):
        rows.append((result["_task"], bool(result.get("failed")), bool(result.get("skipped")),
                     bool(result.get("changed")), result.get("layer_action"), result.get("reasons"),
                     (result.get("error") or {}).get("code")))
    if not rows:
        raise PlayFailed("no task ran on %s" % host_name)
    return rows


def assert_same_decisions(predicted, real, host_name):
    """The check-mode report predicted the real one task by task: same tasks, same failures, same changed,
    the same layer action and the same reasons (not only the names of the changed tasks)."""
    expected, got = decisions(real, host_name), decisions(predicted, host_name)
    failures = ["%s: %s" % (result["_task"], result.get("msg")) for report in (predicted, real)
                for result in task_results(report, host_name) if result.get("failed")]
    assert len(got) == len(expected), "check mode ran %s, the real run %s; failures: %s" % (
        [row[0] for row in got], [row[0] for row in expected], failures)
    for guess, truth in zip(got, expected):
        assert guess == truth, "task %r: check mode predicted\n  %s\nthe real run did\n  %s" % (
            truth[0], guess[1:], truth[1:])


def check_then_real(playbook, hosts, **kwargs):
    """Run playbook in check mode, then for real, and assert the check run predicted every task of the real
    one on every host (assert_same_decisions). Returns (predicted, real) reports; neither may have reached
    no host."""
    predicted = run_playbook(playbook, hosts, check=True, **kwargs)
    real = run_playbook(playbook, hosts, **kwargs)
    for host in hosts:
        assert_same_decisions(predicted, real, host.name)
    return predicted, real


def check_then_real_task(host, module, args, **kwargs):
    """check_then_real for one module task on one host; returns the real run's result."""
    play = [{"hosts": "all", "gather_facts": False, "tasks": [{"name": "task under test", module: args}]}]
    _predicted, real = check_then_real(play, [host], **kwargs)
    return task_results(real, host.name)[-1]


def loop_results(report, host_name, count):
    """The per-item results of the looped task(s) a play ran on one host: exactly count of them, or it fails (a
    play that reached no host, or ran fewer items, proves nothing)."""
    decisions(report, host_name)
    items = [item for result in task_results(report, host_name) for item in result.get("results", [])]
    assert len(items) == count, "%d of %d runs reached %s: %s" % (
        len(items), count, host_name, report.get("_stderr", "")[-2000:])
    return items


def assert_no_op_runs(items):
    """Every run kept its layer and started no process (its commands are empty)."""
    for number, item in enumerate(items):
        assert not item.get("failed") and item.get("layer_action") == "kept" and not item.get("changed"), (number, item)
        assert item.get("commands") == [], "run %d started a process: %s" % (number, item.get("commands"))


def overlapped(first, second):
    """Whether two task results' spans (the JSON callback's start and end, ISO times) overlap."""
    spans = [tuple(datetime.fromisoformat(stamp.rstrip("Z")) for stamp in result["_task_span"])
             for result in (first, second)]
    return spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]
