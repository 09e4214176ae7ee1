"""Signatures over layer cache metadata: HMAC with a shared secret, ssh-keygen -Y with an allowed-signers file."""

import shutil
import subprocess

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _signing
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from ansible_collections.appenv.python.plugins.module_utils._signing import Trust

META = {"format": "appenv.python/layer-cache/1", "key": "ab" * 32, "kind": "toy", "sha256": "00" * 32, "size": 10,
        "record": {"kind": "toy", "inputs": {"v": "1"}}, "built_at": 1, "hits": 0, "last_used": 1}

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")


def test_hmac_signed_entry_is_accepted_and_every_signed_field_is_bound():
    trust = Trust(hmac_key="s3cret")
    signed = trust.sign(META)
    assert trust.check(signed) is None
    # Usage counters change without a new signature.
    assert trust.check(dict(signed, hits=7, last_used=99)) is None
    for field, value in (("key", "cd" * 32), ("sha256", "11" * 32), ("size", 11), ("kind", "other"),
                         ("record", {"kind": "toy", "inputs": {"v": "2"}}), ("built_at", 2)):
        assert "HMAC is wrong" in trust.check(dict(signed, **{field: value})), field


def test_unsigned_or_foreign_entries_are_refused_unless_unsigned_is_trusted():
    assert "HMAC is missing" in Trust(hmac_key="s3cret").check(META)
    assert "HMAC is wrong" in Trust(hmac_key="s3cret").check(Trust(hmac_key="other").sign(META))
    assert Trust(trust="unsigned").check(META) is None
    # No key at all: nothing verifies.
    assert Trust().check(META) is not None


def test_options_without_a_way_to_verify_are_a_titled_error():
    with pytest.raises(AppenvError) as raised:
        Trust.from_options({"path": "/cache"}, "app_dependencies")
    assert raised.value.code == "layer_cache_untrusted" and "app_dependencies" in raised.value.cause
    with pytest.raises(AppenvError) as raised:
        Trust.from_options({"path": "/cache", "signing_key": "/k"})  # a writer must verify what it reads too
    assert raised.value.code == "layer_cache_untrusted"
    assert Trust.from_options({"trust": "unsigned"}).check(META) is None
    assert Trust.from_options({"hmac_key": "x"}).secrets == ["x"]
    with pytest.raises(AppenvError) as raised:
        Trust.from_options({"trust": "maybe", "hmac_key": "x"})
    assert raised.value.code == "bad_argument"


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssh")
    for name in ("writer", "stranger"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(root / name)],
                       check=True)
    public = (root / "writer.pub").read_text().split()[:2]
    (root / "allowed_signers").write_text("ci@pipeline %s %s\n" % tuple(public))
    return root


@needs_ssh_keygen
def test_ssh_signature_checked_by_a_reader_holding_only_allowed_signers(ssh_keys):
    writer = Trust(signing_key=str(ssh_keys / "writer"), allowed_signers=str(ssh_keys / "allowed_signers"))
    runner = CommandRunner()
    signed = writer.sign(META, runner)
    assert signed["signatures"]["ssh"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert [entry["argv"][1:3] for entry in runner.history] == [["-Y", "sign"]]  # through the one runner
    reader = Trust(allowed_signers=str(ssh_keys / "allowed_signers"))
    assert reader.check(signed, runner) is None
    assert "does not match its metadata" in reader.check(dict(signed, sha256="22" * 32))
    stranger = Trust(signing_key=str(ssh_keys / "stranger")).sign(META)
    assert "does not list" in reader.check(stranger)
    assert "no ssh signature" in reader.check(META)
    garbled = dict(signed, signatures={"ssh": "-----BEGIN SSH SIGNATURE-----\n$(id)\n-----END SSH SIGNATURE-----\n"})
    assert "malformed" in reader.check(garbled)


@needs_ssh_keygen
def test_either_configured_scheme_suffices_and_signing_failures_are_raised(ssh_keys, tmp_path):
    both = Trust(hmac_key="s3cret", signing_key=str(ssh_keys / "writer"),
                 allowed_signers=str(ssh_keys / "allowed_signers"))
    signed = both.sign(META)
    assert set(signed["signatures"]) == {"hmac-sha256", "ssh"}
    assert Trust(hmac_key="s3cret").check(signed) is None
    assert Trust(allowed_signers=str(ssh_keys / "allowed_signers")).check(signed) is None
    with pytest.raises(_signing.SigningFailed):
        Trust(signing_key=str(tmp_path / "missing")).sign(META)
