"""How tests/integration/molecule_env.py times molecule's steps from its output (a stand-in program prints molecule's
step lines, as molecule writes them to a pipe and, coloured, to a terminal: no molecule, no Docker)."""

import sys

from tests.integration import molecule_env

ARROW = "\u279c"


def printer(*lines):
    """argv of a program printing lines (a float: sleep that long) and exiting with the last item's code."""
    *lines, code = lines
    script = "import sys, time\nfor line in %r:\n    time.sleep(line) if isinstance(line, float) else print(line)\n" \
             "sys.exit(%d)\n" % (list(lines), code)
    return [sys.executable, "-c", script]


def test_each_step_is_timed_from_its_executing_line_to_its_executed_line():
    argv = printer("INFO     [default > create] Executing", 0.2, "INFO     [default > create] Executed: Successful",
                   "ansible output about another %s noise: Executing" % ARROW,
                   "INFO     default %s destroy: Executing" % ARROW, "INFO     default %s destroy: Executed: Skipped" % ARROW,
                   "\x1b[36mINFO\x1b[0m     \x1b[32mdefault\x1b[0m %s \x1b[33mconverge\x1b[0m: Executing" % ARROW, 0)
    returncode, output, steps = molecule_env._timed_steps(argv, None, "default", timeout=60)
    assert returncode == 0 and "noise" in output
    assert [(step, state) for step, state, _seconds in steps] == [
        ("create", "successful"), ("destroy", "skipped"), ("converge", None)]  # converge never finished
    assert steps[0][2] >= 0.2


def test_a_step_that_fails_ends_the_results_there(monkeypatch):
    monkeypatch.setattr(molecule_env, "prepare_images", lambda scenario: "image")
    monkeypatch.setattr(molecule_env, "served_inputs", lambda arch: _nothing())
    runs = iter([
        printer("INFO     [default > dependency] Executing", "INFO     [default > dependency] Executed: 2 disabled",
                "INFO     [default > cleanup] Executing",
                "WARNING  [default > cleanup] Executed: Missing playbook (Remove from destroy_sequence to suppress)",
                "INFO     [default > destroy] Executing", "INFO     [default > destroy] Executed: Successful", 0),
        printer("INFO     default %s destroy: Executing" % ARROW, "INFO     default %s destroy: Executed: Skipped" % ARROW,
                "INFO     default %s create: Executing" % ARROW, "INFO     default %s create: Executed: Successful" % ARROW,
                "INFO     default %s check: Executing" % ARROW, "ERROR    default %s check: Executed: Failed" % ARROW, 2),
    ])
    monkeypatch.setattr(molecule_env, "_molecule", lambda argv: next(runs))
    results = molecule_env.run_test("default")
    assert [(step, rc) for step, rc, _seconds, _output in results] == [("destroy", 0), ("create", 0), ("check", 2)]
    assert "check: Executed: Failed" in results[-1][3]


class _nothing:
    def __enter__(self):
        return {}

    def __exit__(self, *exc):
        return False
