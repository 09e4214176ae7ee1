"""A PEP 503 "simple" package index on 127.0.0.1 whose contents the tests control.

Two kinds of distributions go in:

* tool wheels (pip, setuptools, wheel, uv, poetry + its export plugin, pipenv and what they
  depend on), fetched once per arch from the package registry the machine is configured with
  (`pip download` for the target platform) and cached under `cache_dir()/tool-wheels/<key>/`;
* synthetic packages the tests build themselves, in milliseconds, with `build_wheel` and
  `build_sdist`: a new upstream version, a package that disappears, a dependency that is dropped,
  an sdist that has to be built, a console script - every scenario is under the test's control.

`PackageIndex(root)` lays the files out as `<root>/files/<name>` and writes
`<root>/simple/index.html` plus `<root>/simple/<project>/index.html` (links carry `#sha256=`);
`publish()` and `remove()` rewrite the pages, so a served index changes while it runs.
"""
import base64
import fcntl
import hashlib
import html
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

from .paths import cache_dir

# Versions the tests (and pip_tooling's defaults) use. OLD_PIP: "a tool version changed".
TOOL_VERSIONS = {
    "pip": "26.3",
    "setuptools": "84.2.1",
    "wheel": "0.48.0",
    "uv": "0.13.9",
    "poetry": "2.5.1",
    "poetry-plugin-export": "1.10.1",
    "pipenv": "2026.10.3",
}
OLD_PIP = "25.3"
PYTHON_FOR_WHEELS = "3.11"
PLATFORMS = {
    "x86_64": ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64"],
    "aarch64": ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64", "linux_aarch64"],
}


class PackageIndexError(RuntimeError):
    pass


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_name(name):
    return re.sub(r"[-_.]+", "_", name)


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# -- tool wheels from the registry ---------------------------------------------------------------
def _tool_requirements():
    reqs = ["%s==%s" % item for item in sorted(TOOL_VERSIONS.items())]
    return reqs


def ensure_tool_wheels(arch):
    """Download (once) the tool wheels for arch; returns the list of wheel paths."""
    reqs = _tool_requirements()
    key = hashlib.sha256(json.dumps({"reqs": reqs, "old_pip": OLD_PIP, "py": PYTHON_FOR_WHEELS,
                                     "platforms": PLATFORMS[arch]}).encode()).hexdigest()[:16]
    root = cache_dir() / "tool-wheels" / ("%s-%s" % (arch, key))
    done = root / ".complete"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if root.exists():
                shutil.rmtree(root)
            part = pathlib.Path(str(root) + ".part")
            if part.exists():
                shutil.rmtree(part)
            part.mkdir()
            base = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "--only-binary=:all:", "--python-version", PYTHON_FOR_WHEELS, "--implementation", "cp",
                    "--abi", "cp" + PYTHON_FOR_WHEELS.replace(".", ""), "--abi", "abi3", "--abi", "none",
                    "-d", str(part)]
            for platform in PLATFORMS[arch]:
                base += ["--platform", platform]
            for batch in (reqs, ["pip==%s" % OLD_PIP]):
                proc = subprocess.run(base + batch, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise PackageIndexError("pip download of the tool wheels failed:\n%s" % proc.stderr[-3000:])
            (part / ".complete").write_text("\n".join(reqs) + "\n")
            os.rename(part, root)
    return sorted(p for p in root.iterdir() if p.suffix == ".whl")


# -- synthetic distributions ----------------------------------------------------------------------
def _metadata(name, version, requires=(), summary="appenv.python test package"):
    lines = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version, "Summary: %s" % summary]
    lines += ["Requires-Dist: %s" % req for req in requires]
    return "\n".join(lines) + "\n"


def _module_source(name, version, size=0):
    body = "__version__ = %r\nNAME = %r\n\n\ndef main():\n    print(NAME, __version__)\n" % (version, name)
    if size:
        # Padding functions make "large" packages for the benchmarks (bytecode work that scales).
        body += "".join("\n\ndef f%d(x):\n    return x * %d + len(%r)\n" % (i, i, "v" * (i % 50))
                        for i in range(size))
    return body


def build_wheel(outdir, name, version, requires=(), scripts=None, size=0, modules=1):
    """A pure-Python wheel of `name` (module `<name with _>`), with Requires-Dist and console scripts."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    dist = _dist_name(name)
    module = dist.lower()
    filename = "%s-%s-py3-none-any.whl" % (dist, version)
    info = "%s-%s.dist-info" % (dist, version)
    files = {"%s/__init__.py" % module: _module_source(name, version, size)}
    for index in range(1, modules):
        files["%s/part%d.py" % (module, index)] = _module_source(name, version, size)
    files["%s/METADATA" % info] = _metadata(name, version, requires)
    files["%s/WHEEL" % info] = "Wheel-Version: 1.0\nGenerator: appenv-testbed\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if scripts:
        files["%s/entry_points.txt" % info] = "[console_scripts]\n" + "".join(
            "%s = %s\n" % (script, target) for script, target in sorted(scripts.items()))
    files["%s/top_level.txt" % info] = module + "\n"
    record = []
    for path, text in files.items():
        data = text.encode("utf-8")
        sha = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        record.append("%s,sha256=%s,%d" % (path, sha, len(data)))
    record.append("%s/RECORD,," % info)
    files["%s/RECORD" % info] = "\n".join(record) + "\n"
    target = outdir / filename
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info_ = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info_.external_attr = 0o644 << 16
            zf.writestr(info_, files[path])
    return target


def build_sdist(outdir, name, version, requires=(), broken=False):
    """An sdist built with setuptools (from the index) at install time; broken=True fails its build."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    dist = _dist_name(name)
    module = dist.lower()
    base = "%s-%s" % (dist, version)
    deps = ", ".join(json.dumps(req) for req in requires)
    files = {
        "pyproject.toml": (
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
            "[project]\nname = %s\nversion = %s\ndependencies = [%s]\n\n"
            "[tool.setuptools]\npackages = [%s]\n" % (json.dumps(name), json.dumps(version), deps,
                                                      json.dumps(module))),
        "PKG-INFO": _metadata(name, version, requires),
        "%s/__init__.py" % module: _module_source(name, version),
    }
    if broken:
        files["setup.py"] = "raise SystemExit('appenv-testbed: this sdist is broken on purpose')\n"
    target = outdir / ("%s.tar.gz" % base)
    with tarfile.open(target, "w:gz") as tf:
        for path in sorted(files):
            data = files[path].encode("utf-8")
            member = tarfile.TarInfo("%s/%s" % (base, path))
            member.size = len(data)
            member.mtime = 1577836800
            member.mode = 0o644
            tf.addfile(member, io.BytesIO(data))
    return target


# -- the index ---------------------------------------------------------------------------------
_FILENAME = re.compile(r"^(?P<name>.+?)-(?P<version>\d[^-]*)(?:-.*\.whl|\.tar\.gz|\.zip)$")


def project_of(filename):
    match = _FILENAME.match(filename)
    if not match:
        raise PackageIndexError("not a distribution file name: %s" % filename)
    return normalise(match.group("name"))


class PackageIndex:
    """A PEP 503 index in a directory; serve it with tests.testbed.mirror.serve(index.root)."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.files = self.root / "files"
        self.simple = self.root / "simple"
        self.files.mkdir(parents=True, exist_ok=True)
        self.simple.mkdir(parents=True, exist_ok=True)
        self.url = None  # set by the fixture that serves it

    @property
    def simple_url(self):
        return "%s/simple" % self.url

    def add(self, paths):
        """Hardlink (or copy) distribution files into the index and rewrite its pages."""
        for src in paths:
            src = pathlib.Path(src)
            dst = self.files / src.name
            if dst.exists():
                dst.unlink()
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
        self.write_pages()

    def publish(self, name, version, requires=(), sdist=False, **kwargs):
        """Build a synthetic distribution straight into the index (a new upstream release)."""
        if sdist:
            build_sdist(self.files, name, version, requires, **kwargs)
        else:
            build_wheel(self.files, name, version, requires, **kwargs)
        self.write_pages()

    def remove(self, name, version=None):
        """Withdraw every file of a project (or of one version of it)."""
        wanted = normalise(name)
        for path in self.files.iterdir():
            match = _FILENAME.match(path.name)
            if match and normalise(match.group("name")) == wanted and version in (None, match.group("version")):
                path.unlink()
        self.write_pages()

    def write_pages(self):
        projects = {}
        for path in sorted(self.files.iterdir()):
            if path.name.startswith("."):
                continue
            projects.setdefault(project_of(path.name), []).append(path)
        for stale in self.simple.iterdir():
            if stale.is_dir() and stale.name not in projects:
                shutil.rmtree(stale)
        for project, paths in projects.items():
            page = self.simple / project
            page.mkdir(exist_ok=True)
            links = "".join('<a href="../../files/%s#sha256=%s">%s</a><br/>\n'
                            % (html.escape(p.name), _sha256(p), html.escape(p.name)) for p in paths)
            _write_atomic(page / "index.html", "<!DOCTYPE html>\n<html><body>\n%s</body></html>\n" % links)
        root_links = "".join('<a href="%s/">%s</a><br/>\n' % (p, p) for p in sorted(projects))
        _write_atomic(self.simple / "index.html", "<!DOCTYPE html>\n<html><body>\n%s</body></html>\n" % root_links)


def _write_atomic(path, text):
    part = pathlib.Path(str(path) + ".part")
    part.write_text(text)
    os.replace(part, path)
