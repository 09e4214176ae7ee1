"""Run a molecule scenario of this repo against the test bed: `python -m tests.integration.molecule_env default`.

Molecule's scenarios (extensions/molecule/<name>/) build an app image with appenv.python.image on a Debian container
of the test bed. What they install comes from 127.0.0.1 only: this module builds the images, serves the
runtime mirror and a package index (tool wheels + the demo packages), writes the demo app, and passes
their addresses to molecule in APPENV_MOLECULE_* variables.
"""

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.collection_path import COLLECTIONS_DIR, REPO_ROOT, ensure_collection_path
from tests.testbed import docker_host, mirror, package_index, runtimes

SCENARIOS = {
    # scenario: (release, arch, image variant)
    "default": ("bookworm", "amd64", ""),
    "aarch64": ("bookworm", "arm64", ""),
    "trixie": ("trixie", "amd64", ""),
    "ssh": ("bookworm", "amd64", "ssh"),
}
SCENARIOS_DIR = REPO_ROOT / "extensions" / "molecule"
DEMO = [("demo-alpha", "1.0", ["demo-beta>=1.0"], {"scripts": {"demo-alpha": "demo_alpha:main"}}),
        ("demo-beta", "1.0", [], {}), ("demo-gamma", "1.0", [], {}), ("demo-delta", "1.0", ["demo-gamma"], {})]


def prepare_images(scenario):
    release, arch, variant = SCENARIOS[scenario]
    docker_host.ensure_dockerd()
    include = docker_host.SSH_PACKAGES if variant == "ssh" else docker_host.BASE_PACKAGES
    return docker_host.ensure_image(release, arch, include=include, variant=variant)


@contextlib.contextmanager
def served_testbed(arch):
    """Runtime mirror + package index (tool wheels and the demo packages) on 127.0.0.1.

    Yields (mirror URL, release tag, index simple URL, scratch directory).
    """
    runtime_arch = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    with tempfile.TemporaryDirectory(prefix="appenv-served-") as tmp:
        tmp = Path(tmp)
        archive = runtimes.ensure_runtime_archive(runtimes.exact_version("3.11"), runtime_arch)
        mirror.make_mirror(tmp / "www" / "mirror", [archive], runtimes.TAG)
        index = package_index.PackageIndex(tmp / "www" / "index")
        index.add(package_index.ensure_tool_wheels(runtime_arch))
        for name, version, requires, options in DEMO:
            package_index.build_wheel(index.files, name, version, requires, **options)
        index.write_pages()
        with mirror.serve(tmp / "www") as base_url:
            yield base_url + "/mirror", runtimes.TAG, base_url + "/index/simple", tmp


@contextlib.contextmanager
def served_inputs(arch):
    """The served test bed and the demo app; yields the APPENV_MOLECULE_* variables."""
    with served_testbed(arch) as (mirror_url, release, index_url, _tmp):
        yield {
            "APPENV_MOLECULE_MIRROR": mirror_url,
            "APPENV_MOLECULE_RELEASE": release,
            "APPENV_MOLECULE_INDEX": index_url,
            "APPENV_MOLECULE_APP": str(SCENARIOS_DIR / "shared" / "app"),
            "APPENV_MOLECULE_EXPECT_PYTHON": runtimes.exact_version("3.11"),
        }


def _log_platforms_cpu(scenario, image, log):
    """The CPU time of the scenario's containers before molecule destroys them (see docker_host.log_container_cpu):
    molecule's driver makes them, so they are not removed through the test bed's Container."""
    import yaml  # the controller virtualenv's; only needed here

    config = yaml.safe_load((SCENARIOS_DIR / scenario / "molecule.yml").read_text())
    for platform in config.get("platforms", []):
        docker_host.log_container_cpu(platform["name"], image, log)


def test_sequence(scenario):
    """The steps `molecule test -s scenario` runs (its molecule.yml's scenario.test_sequence), in order."""
    import yaml  # the controller virtualenv's; only needed here

    return list(yaml.safe_load((SCENARIOS_DIR / scenario / "molecule.yml").read_text())["scenario"]["test_sequence"])


@contextlib.contextmanager
def _served_scenario(scenario):
    """The scenario's image and served inputs; yields (image, the environment molecule runs with)."""
    ensure_collection_path()
    image = prepare_images(scenario)
    _release, arch, _variant = SCENARIOS[scenario]
    with served_inputs(arch) as variables:
        yield image, _molecule_env(image, variables)


def _molecule_env(image, variables):
    env = dict(os.environ)
    env.update(variables)
    env["APPENV_MOLECULE_IMAGE"] = image
    venv_bin = str(Path(sys.executable).parent)
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_DIR),
        "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        # Molecule's step lines arrive as they are written (run_test times the steps by them).
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _molecule(argv):
    return [os.path.join(str(Path(sys.executable).parent), "molecule")] + list(argv)


def run(scenario, commands=("test",), timeout=3600):
    """Run `molecule <command> -s scenario` for each command, with one set of served inputs.

    Returns [(command, returncode, seconds, output)], stopping at the first failure. (Each command is a molecule
    run of its own: `check` and `converge` run their own sequences, e.g. `check` creates, converges, checks and
    destroys a host. run_test runs the scenario's test sequence, each step once.)
    """
    results = []
    with _served_scenario(scenario) as (image, env):
        for number, command in enumerate(commands):
            if command == "destroy" and number and os.environ.get("APPENV_CONTAINER_CPU_LOG"):
                _log_platforms_cpu(scenario, image, os.environ["APPENV_CONTAINER_CPU_LOG"])
            started = time.monotonic()
            proc = subprocess.run(_molecule([command, "-s", scenario]), cwd=str(REPO_ROOT), env=env,
                                  capture_output=True, text=True, timeout=timeout, check=False)
            results.append((command, proc.returncode, time.monotonic() - started, proc.stdout + proc.stderr))
            if proc.returncode != 0:
                break
    return results


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Molecule's line at the start and at the end of each step, "INFO     [default > converge] Executing", then
# "... Executed: Successful" (or Skipped, 2 disabled, Missing playbook..., Failed); on a terminal "default <U+279C> converge:".
_STEP_LINE = re.compile(r"(?:\[(?P<scenario>[\w.-]+) > (?P<step>\w+)\]|(?P<scenario_>[\w.-]+) \u279c (?P<step_>\w+):) "
                        r"(?:(?P<start>Executing)|Executed: (?P<state>.*\S))")


def _timed_steps(argv, env, scenario, timeout):
    """Run one molecule command; return (returncode, output, [(step, state, seconds)]), each step timed by the
    controller's clock from its Executing line to its Executed line (state None: it never finished)."""
    proc = subprocess.Popen(argv, cwd=str(REPO_ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    lines, steps, started = [], [], None
    try:
        for line in proc.stdout:
            lines.append(line)
            match = _STEP_LINE.search(_ANSI.sub("", line))
            if not match or (match.group("scenario") or match.group("scenario_")) != scenario:
                continue
            step = match.group("step") or match.group("step_")
            if match.group("start"):
                started = (step, time.monotonic())
            elif started and started[0] == step:
                steps.append((started[0], match.group("state").lower(), time.monotonic() - started[1]))
                started = None
        returncode = proc.wait()
    finally:
        timer.cancel()
        proc.stdout.close()
    if started:  # the step molecule was in when it stopped
        steps.append((started[0], None, time.monotonic() - started[1]))
    return returncode, "".join(lines), steps


def run_test(scenario, timeout=3600):
    """`molecule test -s scenario` with one set of served inputs: the scenario's test sequence, each step once.

    Run as separate commands, `molecule check` would run its own check_sequence (create, converge, check,
    destroy: a whole converge of its own), so the sequence runs in one `molecule test`, between a `destroy`
    (a host left by an interrupted run) and a `destroy` of its own, before which the containers' CPU time is
    logged ($APPENV_CONTAINER_CPU_LOG); `--destroy never` skips the sequence's own destroys.

    Returns [(step, returncode, seconds, output)] in the order the steps ran, stopping at the first failure (its
    returncode is not 0; output is the whole molecule output of that command).
    """
    results = []
    with _served_scenario(scenario) as (image, env):
        # (command, the steps it runs that the result lists); the others (a destroy command's dependency and
        # cleanup, the test's own destroys) are disabled or skipped here, and must not fail.
        commands = ((["destroy"], ["destroy"]),
                    (["test", "--destroy", "never"], [step for step in test_sequence(scenario) if step != "destroy"]),
                    (["destroy"], ["destroy"]))
        for number, (command, listed) in enumerate(commands):
            if number == len(commands) - 1 and os.environ.get("APPENV_CONTAINER_CPU_LOG"):
                _log_platforms_cpu(scenario, image, os.environ["APPENV_CONTAINER_CPU_LOG"])
            returncode, output, steps = _timed_steps(_molecule(command + ["-s", scenario]), env, scenario, timeout)
            for step, state, seconds in steps:
                if step not in listed and state and not state.startswith("failed"):
                    continue
                ok = bool(state) and state.startswith("successful")
                results.append((step, 0 if ok else (returncode or 1), seconds, output))
                if not ok:
                    return results
            if returncode != 0:
                results.append((command[0], returncode, 0.0, output))
                return results
    return results


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    scenario = argv[0] if argv else "default"
    commands = argv[1:] or ["test"]
    rc = 0
    for command, rc, seconds, output in run(scenario, commands):
        print(output)
        print("molecule %s -s %s: rc=%d in %.1f s" % (command, scenario, rc, seconds))
    return rc


if __name__ == "__main__":
    sys.exit(main())
