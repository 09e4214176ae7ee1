# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way appenv.python starts a program on the target.

No shell, an environment cleared to what the step needs (so PYTHONHOME,
PYTHONPATH, PIP_*, VIRTUAL_ENV… on the host cannot hijack an install), retries
with backoff for network steps, secrets masked everywhere, and a history of
every command for the module result (shown with -v).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_OUTPUT_TAIL = 4000


def find_program(name, path=SAFE_PATH):
    """The full path of program name on path (the runner's cleared PATH by default), or None."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _tail(text, limit=_OUTPUT_TAIL):
    return text if len(text) <= limit else "…" + text[-limit:]


class CommandResult:
    def __init__(self, argv, rc, stdout, stderr, seconds):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    @property
    def output(self):
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()


class CommandRunner:
    """Runs argv lists with a cleared environment; keeps a masked history."""

    def __init__(self, env=None, secrets=(), sleep=time.sleep):
        home = os.environ.get("HOME") or "/root"
        self.base_env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home}
        # SOURCE_DATE_EPOCH is an input the user set on purpose (reproducible pycs).
        if os.environ.get("SOURCE_DATE_EPOCH"):
            self.base_env["SOURCE_DATE_EPOCH"] = os.environ["SOURCE_DATE_EPOCH"]
        self.base_env.update(env or {})
        self.secrets = [secret for secret in secrets if secret]
        self.history = []
        self._sleep = sleep

    def add_secret(self, secret):
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def mask(self, text):
        if text is None:
            return text
        text = redact_url(str(text))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def run(self, argv, what, env=None, cwd=None, retries=0, backoff=1.0, timeout=None,
            check=True, fault="command_failed", stdin=None, stdin_file=None):
        """Run argv (a list, never a shell string).

        what: a phrase for errors and logs ("Installing the app's dependencies").
        retries: extra attempts for steps that touch the network; waits backoff,
        2*backoff, 4*backoff… between them.
        check: raise AppenvError(fault) when the exit status is not 0.
        stdin: text written to the program's standard input; stdin_file: an open file it reads instead.
        """
        argv = [str(arg) for arg in argv]
        full_env = dict(self.base_env)
        full_env.update({key: str(value) for key, value in (env or {}).items() if value is not None})
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    argv, env=full_env, cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                    stdin=stdin_file if stdin is None else None,
                    stderr=subprocess.PIPE, timeout=timeout, check=False,
                    universal_newlines=True, errors="replace")
            except FileNotFoundError as exc:
                self._record(argv, 127, "", str(exc), time.monotonic() - started, attempt)
                raise AppenvError("command_not_found", program=argv[0], detail=self.mask(exc))
            except PermissionError as exc:
                self._record(argv, 126, "", str(exc), time.monotonic() - started, attempt)
                raise AppenvError("command_not_found", program=argv[0], detail=self.mask(exc))
            except subprocess.TimeoutExpired:
                self._record(argv, -1, "", "timed out", time.monotonic() - started, attempt)
                if attempt <= retries:
                    self._sleep(backoff * (2 ** (attempt - 1)))
                    continue
                raise AppenvError("command_timeout", what=what, command=self.mask(" ".join(argv)), timeout=timeout)
            result = CommandResult(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
            self._record(argv, result.rc, result.stdout, result.stderr, result.seconds, attempt)
            if result.rc == 0 or not check:
                return result
            if attempt <= retries:
                self._sleep(backoff * (2 ** (attempt - 1)))
                continue
            raise AppenvError(fault, what=what, command=self.mask(" ".join(argv)), rc=result.rc,
                              output=self.mask(_tail(result.output)))

    def start(self, argv, what, stdin_file=None):
        """Start argv without waiting for it (the same cleared environment, no retries).

        Returns a Started; its wait() (or kill()) records the command in the history like run().
        Raises AppenvError(command_not_found) when the program cannot be started.
        """
        argv = [str(arg) for arg in argv]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(argv, env=dict(self.base_env), stdin=stdin_file, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True, errors="replace")
        except (FileNotFoundError, PermissionError) as exc:
            self._record(argv, 127, "", str(exc), time.monotonic() - started, 1)
            raise AppenvError("command_not_found", program=argv[0], detail=self.mask(exc))
        return Started(self, argv, what, proc, started)

    def _record(self, argv, rc, stdout, stderr, seconds, attempt):
        self.history.append({
            "argv": [self.mask(arg) for arg in argv],
            "rc": rc,
            "seconds": round(seconds, 3),
            "attempt": attempt,
            "stdout": self.mask(_tail(stdout or "")),
            "stderr": self.mask(_tail(stderr or "")),
        })


class Started:
    """A program CommandRunner.start started: wait() for it, or kill() it; either records it once."""

    def __init__(self, runner, argv, what, proc, started):
        self.runner = runner
        self.argv = argv
        self.what = what
        self.proc = proc
        self.started = started
        self.result = None

    def wait(self):
        if self.result is None:
            stdout, stderr = self.proc.communicate()
            self.result = CommandResult(self.argv, self.proc.returncode, stdout, stderr,
                                        time.monotonic() - self.started)
            self.runner._record(self.argv, self.result.rc, stdout, stderr, self.result.seconds, 1)
        return self.result

    def kill(self):
        if self.result is None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        return self.wait()
