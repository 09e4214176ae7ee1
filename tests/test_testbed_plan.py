"""The test bed's build plan (tests/testbed/__main__.py): what waits for what, and how the steps are run."""

import os
import subprocess
import threading
import time

import pytest

from tests.testbed import docker_host, pbs_faithful, runtimes
from tests.testbed.__main__ import BACKGROUND, Step, plan, run_steps, runtime_label


def test_the_aarch64_archive_waits_for_its_build_python_and_binfmt_and_nothing_else_waits_for_a_build():
    steps = {step.label: step for step in plan(arm64=True, trixie=True)}
    aarch64 = runtime_label(runtimes.PY311, "aarch64")
    assert set(steps[aarch64].after) == {runtime_label(runtimes.PY311, "x86_64"), "binfmt qemu-aarch64"}
    for label, step in steps.items():
        if step.fn is pbs_faithful.ensure_faithful_archive:
            # derived from a build without compiling: it waits for exactly that build
            assert list(step.after) == [runtime_label(*step.args)], (label, step.after)
        elif label != aarch64:
            assert not [a for a in step.after if a.startswith("runtime ")], (label, step.after)
    assert set(steps["image bookworm-arm64"].after) == {"dockerd", "binfmt qemu-aarch64"}
    # the longest chain is handed out first
    assert list(steps).index(runtime_label(runtimes.PY311, "x86_64")) < list(steps).index("image bookworm-amd64")


def test_image_variants_are_derived_from_their_base_image_and_wait_for_it():
    steps = {step.label: step for step in plan(arm64=True, trixie=True)}
    for variant, base in (("image bookworm-amd64-ssh", "image bookworm-amd64"),
                          ("image bookworm-amd64-gcc", "image bookworm-amd64"),
                          ("image bookworm-arm64-gcc", "image bookworm-arm64"),
                          ("image bookworm-amd64-venv", "image bookworm-amd64"),
                          ("image trixie-amd64-venv", "image trixie-amd64")):
        assert list(steps[variant].after) == [base], (variant, steps[variant].after)
    # a variant's key names its base image's key and the packages it adds; the base keeps the debootstrap key
    base_key = docker_host._rootfs_key("bookworm", "arm64", docker_host.BASE_PACKAGES)
    gcc_key = docker_host._derived_key("bookworm", "arm64", {"gcc", "libc6-dev"})
    assert gcc_key not in (base_key, docker_host._derived_key("bookworm", "amd64", {"gcc", "libc6-dev"}),
                           docker_host._derived_key("bookworm", "arm64", {"gcc"}))
    with pytest.raises(ValueError):
        docker_host.ensure_image("bookworm", "amd64", include=("gcc",), variant="gcc")


def test_the_builds_nothing_waits_for_run_in_the_background_and_their_processes_inherit_it():
    steps = {step.label: step for step in plan(arm64=True, trixie=True)}
    waited_for = {a for step in steps.values() for a in step.after}
    background = {label for label, step in steps.items() if step.nice}
    assert background == {runtime_label(runtimes.PY313, "x86_64"), "runtime %s x86_64 freethreaded" % runtimes.PY313}
    assert not background & waited_for

    def child_nice():
        return int(subprocess.run(["sh", "-c", "nice"], capture_output=True, text=True, check=True).stdout)

    results = run_steps([Step("bg", child_nice, nice=BACKGROUND)], jobs=1)
    assert results["bg"][1] == os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND
    if os.geteuid() == 0:  # only root may take a thread's niceness back down
        results = run_steps([Step("bg", child_nice, nice=BACKGROUND), Step("fg", child_nice, after=["bg"])], jobs=1)
        assert results["fg"][1] == os.getpriority(os.PRIO_PROCESS, 0)  # the reused thread is back at normal priority


def test_without_arm64_nothing_of_aarch64_is_planned():
    labels = [step.label for step in plan(arm64=False, trixie=False)]
    assert not [label for label in labels if "arm64" in label or "aarch64" in label], labels
    assert "image trixie-amd64" not in labels


def test_independent_steps_overlap_and_dependent_ones_wait():
    events, lock = [], threading.Lock()

    def work(name, seconds):
        with lock:
            events.append(("start", name))
        time.sleep(seconds)
        with lock:
            events.append(("end", name))
        return name

    started = time.monotonic()
    results = run_steps([Step("a", work, "a", 0.3), Step("b", work, "b", 0.3),
                         Step("c", work, "c", 0.05, after=["a", "b"])], jobs=3)
    assert time.monotonic() - started < 0.55  # a and b side by side
    assert events.index(("start", "c")) > max(events.index(("end", "a")), events.index(("end", "b")))
    assert {label: result for label, (_dt, result) in results.items()} == {"a": "a", "b": "b", "c": "c"}


def test_a_failure_stops_new_steps_lets_running_ones_finish_and_is_raised():
    finished = []

    def fail():
        raise RuntimeError("debootstrap failed")

    def slow():
        time.sleep(0.2)
        finished.append("slow")

    def never():
        finished.append("never")

    with pytest.raises(RuntimeError, match="debootstrap failed"):
        run_steps([Step("fail", fail), Step("slow", slow), Step("after", never, after=["fail"])], jobs=2)
    assert finished == ["slow"]


def test_a_step_waiting_for_an_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        run_steps([Step("a", lambda: None, after=["missing"])], jobs=1)


def test_a_free_thread_takes_the_first_ready_step_in_plan_order():
    """A step whose wait ends goes before later steps of the plan (the aarch64 build once its x86_64 build python is
    made), not behind every step that was ready before it."""
    started = []

    def work(name):
        started.append(name)
        time.sleep(0.05)

    run_steps([Step("x86_64", work, "x86_64"), Step("aarch64", work, "aarch64", after=["x86_64"]),
               Step("image", work, "image"), Step("wheels", work, "wheels")], jobs=1)
    assert started == ["x86_64", "aarch64", "image", "wheels"]
