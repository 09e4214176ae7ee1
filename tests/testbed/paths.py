"""Where the test bed keeps what it builds (images' root file systems, runtime archives, logs)."""
import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTBED_DIR = pathlib.Path(__file__).resolve().parent


def cache_dir() -> pathlib.Path:
    """Cache root: $APPENV_TESTBED_CACHE, else $XDG_CACHE_HOME/appenv-testbed, else ~/.cache/appenv-testbed.

    The directory is created if missing.
    """
    explicit = os.environ.get("APPENV_TESTBED_CACHE")
    if explicit:
        path = pathlib.Path(explicit)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
        path = base / "appenv-testbed"
    path.mkdir(parents=True, exist_ok=True)
    return path


def debian_mirror() -> str:
    """The Debian mirror apt is configured with (never written in code: read by debian-mirror.sh)."""
    import subprocess

    out = subprocess.run([str(TESTBED_DIR / "debian-mirror.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip()
