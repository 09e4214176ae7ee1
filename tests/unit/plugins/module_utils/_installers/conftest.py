"""What the installers' tests share: a runner that records commands instead of running them, a runtime's paths."""

import os

import pytest


class Result:
    def __init__(self, rc=0, stdout="", stderr=""):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr

    @property
    def output(self):
        return self.stdout + self.stderr


class RecordingRunner:
    """Keeps each command's argv and keyword arguments; answers with the result given (the export's stdout)."""

    def __init__(self, result=None):
        self.calls = []
        self.result = result or Result()

    def run(self, argv, what, **kwargs):
        self.calls.append(dict(kwargs, argv=list(argv), what=what))
        return self.result


class Runtime:
    def __init__(self, root):
        self.root = root
        self.python = os.path.join(root, "bin", "python3.11")
        self.site_packages = os.path.join(root, "lib", "python3.11", "site-packages")

    def user_site(self, base):
        return os.path.join(base, "lib", "python3.11", "site-packages")


@pytest.fixture
def runtime(tmp_path):
    return Runtime(str(tmp_path / "python"))


def install_distribution(site, name, version):
    """A distribution as installed (its .dist-info with METADATA), for the version lookups."""
    dist_info = os.path.join(site, "%s-%s.dist-info" % (name, version))
    os.makedirs(dist_info)
    with open(os.path.join(dist_info, "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))


@pytest.fixture
def runner():
    """A RecordingRunner; runner.result is what every command answers."""
    return RecordingRunner()


@pytest.fixture
def result():
    return Result


@pytest.fixture
def distribution():
    return install_distribution
