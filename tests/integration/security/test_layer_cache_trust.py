"""Layer caches written by someone else: poisoned, renamed and escaping entries, hostile keys, signed entries."""

import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_runtime, runtime_args, start_host
from ansible_collections.appenv.python.plugins.module_utils import _signing

pytestmark = [pytest.mark.integration, pytest.mark.faults]

SECRET = "hmac-secret-of-the-test-pipeline"
SITE = DEFAULT_DEST + "/lib/python3.11/site-packages"
POISON = "import os; open('/tmp/POISONED', 'w').close()\n"
APP = {"a": {"pkg/__init__.py": "A = 1\n", "pkg/mod.py": "def f():\n    return 1\n"},
       "b": {"pkg/__init__.py": "B = 2\n", "main.py": "import pkg\n"}}
# A compromised host answers the controller's question with this instead of a key: a path on the controller.
EVIL_PYTHON = r"""#!/usr/bin/python3
import json, subprocess, sys
proc = subprocess.run(["/usr/bin/python3"] + sys.argv[1:], stdout=subprocess.PIPE)
out = proc.stdout.decode()
try:
    result = json.loads(out)
    if "key" in result:
        result["key"] = %r
    out = json.dumps(result)
except ValueError:
    pass
sys.stdout.write(out)
sys.exit(proc.returncode)
"""


@pytest.fixture(scope="module")
def trust_env(ssh_image, tmp_path_factory):
    """One host (with ssh-keygen) for the module; the cache volume at /cache (and read-only at /cache-ro)."""
    root = tmp_path_factory.mktemp("layer-cache-trust")
    caches = root / "caches"
    caches.mkdir(mode=0o755)
    keys = root / "keys"
    keys.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "writer", "-f", str(keys / "writer")],
                   check=True)
    (keys / "allowed_signers").write_text("ci@pipeline %s\n" % " ".join(
        (keys / "writer.pub").read_text().split()[:2]))
    host = start_host(ssh_image, "x86_64", network="host",
                      volumes=[(str(caches), "/cache"), (str(caches), "/cache-ro", "ro")])
    host.sh("mkdir -p /etc/appenv && printf '%%s' '%s' > /etc/appenv/allowed_signers"
            % (keys / "allowed_signers").read_text().strip())
    try:
        yield {"host": host, "caches": caches, "keys": keys}
    finally:
        host.container.remove()


def new_cache(env, name):
    path = env["caches"] / name
    path.mkdir(mode=0o755)
    return path


def entries(cache_dir):
    """{key: (metadata path, archive path)} of a cache directory on the controller."""
    found = {}
    for meta in cache_dir.glob("*/*.json"):
        key = meta.name[:-5]
        archive = list(meta.parent.glob(key + ".tar*"))[0]
        found[key] = (meta, archive)
    return found


def only(items):
    """The one item of items (an assertion error otherwise)."""
    items = list(items)
    assert len(items) == 1, items
    return items[0]


def rewrite_meta(meta_path, archive, change=None):
    """Rewrite an entry's metadata the way whoever can write the cache would: consistent sha256 and size."""
    meta = json.loads(meta_path.read_text())
    meta.update(sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), size=archive.stat().st_size)
    if change:
        change(meta)
    meta_path.write_text(json.dumps(meta))
    return meta


def fresh_runtime(host):
    host.sh("rm -rf %s /opt/appenv/.python.appenv-lock /tmp/POISONED" % DEFAULT_DEST)


def fresh_app(host, name):
    host.sh("rm -rf /var/lib/appenv/pyc /srv/%s && mkdir -p /srv/%s" % (name, name))
    for rel, text in APP[name].items():
        host.sh("mkdir -p \"$(dirname /srv/%s/%s)\" && printf '%%s' '%s' > /srv/%s/%s && touch -d '2026-01-02' "
                "/srv/%s/%s" % (name, rel, text, name, rel, name, rel))


def compile_app(host, name, cache, check=False):
    return harness.run_task(host, "appenv.python.pyc_compile",
                            {"paths": ["/srv/" + name], "interpreter": "/usr/bin/python3", "layer_cache": cache},
                            check=check)


def warned(result, text):
    return any(text in warning for warning in result.get("warnings", []))


def test_poisoned_entry_in_a_shared_volume_is_refused(trust_env, runtime_mirror):
    """A poisoned runtime entry in a shared volume: whoever can write it appended a .pth file that runs code
    to the archive and rewrote the metadata to match (sha256, size), but cannot sign it with the pipeline's
    HMAC key.

    Expected: check mode and the run both say created; the entry is refused with a warning, the runtime is
    built, the .pth never exists and its code never runs; the rebuilt entry replaces it and a fresh host
    restores that one; a reader with store: false restores it from a read-only mount and writes nothing."""
    host = trust_env["host"]
    cache_dir = new_cache(trust_env, "poisoned")
    cache = {"path": "/cache/poisoned", "hmac_key": SECRET}
    fresh_runtime(host)
    assert harness.assert_ok(install_runtime(host, runtime_mirror, layer_cache=cache))[
        "layer_action"] == "created"
    assert harness.assert_ok(install_runtime(host, runtime_mirror, layer_cache=cache))["changed"] is False
    meta_path, archive = only(entries(cache_dir).values())
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("lib/python3.11/site-packages/zz_poison.pth")
        info.size = len(POISON)
        tar.addfile(info, io.BytesIO(POISON.encode()))
    rewrite_meta(meta_path, archive)

    fresh_runtime(host)
    predicted = harness.assert_ok(install_runtime(host, runtime_mirror, check=True, layer_cache=cache))
    result = harness.assert_ok(install_runtime(host, runtime_mirror, layer_cache=cache))
    assert predicted["layer_action"] == result["layer_action"] == "created", (predicted, result)
    assert warned(result, "not signed by a key this host trusts"), result.get("warnings")
    host.exec([DEFAULT_DEST + "/bin/python3", "-c", "import ssl"])
    assert host.sh("test -e %s/zz_poison.pth || test -e /tmp/POISONED" % SITE, check=False).returncode == 1
    assert harness.assert_ok(install_runtime(host, runtime_mirror, layer_cache=cache))["changed"] is False

    # The rebuilt, signed entry replaced the poisoned one: restored on a fresh host, and by a reader that holds
    # the key but may not write (store: false, the volume mounted read-only).
    fresh_runtime(host)
    restored = harness.assert_ok(install_runtime(host, runtime_mirror, layer_cache=cache))
    assert restored["layer_action"] == "restored" and not restored.get("warnings"), restored
    before = sorted(os.listdir(cache_dir / meta_path.parent.name))
    fresh_runtime(host)
    reader = {"path": "/cache-ro/poisoned", "hmac_key": SECRET, "store": False}
    restored = harness.assert_ok(install_runtime(host, runtime_mirror, layer_cache=reader))
    assert restored["layer_action"] == "restored" and not restored.get("warnings"), restored
    assert sorted(os.listdir(cache_dir / meta_path.parent.name)) == before
    host.exec([DEFAULT_DEST + "/bin/python3", "-c", "import ssl"])


def test_entry_renamed_from_another_key_is_refused(trust_env):
    """An entry with another key renamed into place: the signed entry of app a copied over the entry of app b
    (its signature is valid, only its key is not the one asked for).

    Expected: the entry is refused with a warning naming the rename, app b's pycs are compiled (not a's), and
    the next run keeps them."""
    host = trust_env["host"]
    cache_dir = new_cache(trust_env, "renamed")
    cache = {"path": "/cache/renamed", "hmac_key": SECRET}
    fresh_app(host, "a")
    assert harness.assert_ok(compile_app(host, "a", cache))["layer_action"] == "created"
    key_a = only(entries(cache_dir))
    fresh_app(host, "b")
    assert harness.assert_ok(compile_app(host, "b", cache))["layer_action"] == "created"
    key_b = only(set(entries(cache_dir)) - {key_a})
    found = entries(cache_dir)
    found[key_b][1].unlink()
    for source, dest in zip(found[key_a], (found[key_b][0], found[key_b][1].with_name(found[key_a][1].name.replace(
            key_a, key_b)))):
        dest.write_bytes(source.read_bytes())

    fresh_app(host, "b")
    result = harness.assert_ok(compile_app(host, "b", cache))
    assert result["layer_action"] == "created", result
    assert warned(result, "renamed into place"), result.get("warnings")
    host.exec(["/usr/bin/python3", "-c", "import sys; sys.path.insert(0, '/srv/b'); import main, pkg; assert pkg.B == 2"])
    assert host.sh("test -e /srv/b/pkg/__pycache__/mod.cpython-311.pyc", check=False).returncode == 1
    assert harness.assert_ok(compile_app(host, "b", cache))["changed"] is False


def test_overlay_record_escaping_its_root_is_refused(trust_env):
    """An overlay entry whose record lists ../../etc/appenv-poisoned.pth among its files, signed by a writer
    that holds the key (a compromised build host): the signature is valid, the path is not.

    Expected: the entry is refused with a warning naming the path, nothing outside the app's tree is touched
    (/etc/appenv-poisoned.pth never exists), the pycs are compiled and the next run keeps them."""
    host = trust_env["host"]
    cache_dir = new_cache(trust_env, "escaping")
    cache = {"path": "/cache/escaping", "hmac_key": SECRET}
    fresh_app(host, "a")
    assert harness.assert_ok(compile_app(host, "a", cache))["layer_action"] == "created"
    meta_path, archive = only(entries(cache_dir).values())

    def escape(meta):
        meta["record"]["facts"]["overlay"]["files"].append("../../etc/appenv-poisoned.pth")
        meta.update(_signing.Trust(hmac_key=SECRET).sign(meta))

    rewrite_meta(meta_path, archive, escape)
    fresh_app(host, "a")
    result = harness.assert_ok(compile_app(host, "a", cache))
    assert result["layer_action"] == "created", result
    assert warned(result, "outside"), result.get("warnings")
    assert host.sh("test -e /etc/appenv-poisoned.pth", check=False).returncode == 1
    assert harness.assert_ok(compile_app(host, "a", cache))["changed"] is False


def test_ssh_signed_entry_restored_by_a_reader_without_secrets(trust_env):
    """Entries signed with ssh-keygen -Y sign by the host that builds; a host that only reads holds nothing but
    the allowed-signers file (no private key, no HMAC key) and may not write the cache (store: false).

    Expected: the reader restores the pycs (checked with ssh-keygen -Y verify), valid and used; an entry signed
    by a key the allowed-signers file does not list is refused and built; a cache directory every user may
    write is refused with a titled error unless allow_shared_writable is set."""
    host = trust_env["host"]
    cache_dir = new_cache(trust_env, "ssh")
    host.container.copy_in(str(trust_env["keys"] / "writer"), "/root/signing_key")
    host.sh("chown root:root /root/signing_key && chmod 0600 /root/signing_key")
    writer = {"path": "/cache/ssh", "signing_key": "/root/signing_key",
              "allowed_signers": "/etc/appenv/allowed_signers"}
    fresh_app(host, "a")
    assert harness.assert_ok(compile_app(host, "a", writer))["layer_action"] == "created"
    host.sh("rm /root/signing_key")

    reader = {"path": "/cache/ssh", "allowed_signers": "/etc/appenv/allowed_signers", "store": False}
    fresh_app(host, "a")
    predicted = harness.assert_ok(compile_app(host, "a", reader, check=True))
    result = harness.assert_ok(compile_app(host, "a", reader))
    assert predicted["layer_action"] == result["layer_action"] == "restored" and not result.get("warnings"), result
    assert [entry["argv"][1:3] for entry in result["commands"] if "ssh-keygen" in entry["argv"][0]][-1] == [
        "-Y", "verify"]
    host.exec(["/usr/bin/python3", "-c", "import sys; sys.path.insert(0, '/srv/a'); import pkg.mod"])
    assert harness.assert_ok(compile_app(host, "a", reader))["changed"] is False

    # Signed by a stranger's key: refused, built.
    meta_path, archive = only(entries(cache_dir).values())
    stranger = trust_env["keys"] / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    rewrite_meta(meta_path, archive, lambda meta: meta.update(_signing.Trust(signing_key=str(stranger)).sign(meta)))
    fresh_app(host, "a")
    result = harness.assert_ok(compile_app(host, "a", reader))
    assert result["layer_action"] == "created" and warned(result, "does not list"), result

    # A cache directory other users can write: a titled error, unless the risk is taken on purpose.
    os.chmod(cache_dir, 0o1777)
    try:
        fresh_app(host, "a")
        refused = compile_app(host, "a", reader)
        assert harness.error_of(refused)["code"] == "layer_cache_shared_writable", refused
        allowed = harness.assert_ok(compile_app(host, "a", dict(reader, allow_shared_writable=True)))
        assert allowed["layer_action"] == "created"
    finally:
        os.chmod(cache_dir, 0o755)


def test_compromised_host_returning_a_hostile_key_to_the_controller(trust_env, runtime_mirror, tmp_path):
    """A compromised host answers the controller's layer cache with a path on the controller instead of a key
    (its Python rewrites the module's answer).

    Expected: the controller refuses it with a titled error before it makes a path of it: nothing is read,
    written or deleted at that path or in the controller's cache."""
    host = trust_env["host"]
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "settings.json").write_text("{}")
    hostile = str(victim / "settings")
    host.sh("cat > /usr/local/bin/evil-python <<'EOF'\n%sEOF\nchmod 0755 /usr/local/bin/evil-python"
            % (EVIL_PYTHON % hostile))
    controller = tmp_path / "controller-cache"
    fresh_runtime(host)
    args = runtime_args(host, runtime_mirror, layer_cache={"controller_path": str(controller), "hmac_key": SECRET})
    result = harness.run_task(host, "appenv.python.python_runtime", args,
                              vars={"ansible_python_interpreter": "/usr/local/bin/evil-python"})
    assert harness.error_of(result)["code"] == "layer_cache_bad_key", result
    assert sorted(os.listdir(victim)) == ["settings.json"] and (victim / "settings.json").read_text() == "{}"
    assert not controller.exists() or not any(controller.rglob("*.json"))
