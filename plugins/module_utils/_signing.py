# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who may write a layer cache entry that this host restores: signatures over an entry's metadata.

Whoever can write a cache (a shared volume, an HTTP server, a host feeding the
controller's cache) can write an archive and a metadata file whose sha256
matches it; the sha256 alone only says the archive arrived whole. So entries
carry signatures over their metadata (everything but ``signatures`` and the
usage counters ``hits``/``last_used``: key, kind, inputs in the record,
sha256, size, record, built_at, ...), and the metadata's sha256 binds the
archive:

- ``hmac-sha256``: an HMAC with a secret the pipeline holds
  (``layer_cache.hmac_key``). Everyone who verifies can also sign.
- ``ssh``: ``ssh-keygen -Y sign`` with a private key (``layer_cache.signing_key``,
  writers only) in the namespace ``appenv-layer-cache``, checked with
  ``ssh-keygen -Y find-principals``/``-Y verify`` against an allowed-signers
  file (``layer_cache.allowed_signers``): hosts that only read hold no secret.

``Trust.check()`` accepts an entry when one configured scheme verifies it;
``trust: unsigned`` (an explicit opt-in for a cache only its user writes)
accepts any entry. With ``trust: signed`` (the default) and no way to verify,
the option is refused with a titled error: a cache that could never be read
is a mistake, not a mode. ssh-keygen runs through the module's CommandRunner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_options import TRUST_CHOICES
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner, find_program

NAMESPACE = "appenv-layer-cache"
# Fields a reader may see change without a new signature: the signatures themselves and usage counters.
UNSIGNED_FIELDS = ("signatures", "hits", "last_used")
HMAC = "hmac-sha256"
SSH = "ssh"
_PRINCIPAL = re.compile(r"^[^\s,\"]{1,256}$")
_ARMOR = re.compile(r"^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]{1,8192}-----END SSH SIGNATURE-----\n?$")


def signed_payload(meta):
    """The bytes an entry's signatures cover: the canonical JSON of its metadata but the unsigned fields."""
    covered = dict((key, value) for key, value in meta.items() if key not in UNSIGNED_FIELDS)
    return json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def hmac_signature(secret, meta):
    return hmac.new(secret.encode("utf-8"), signed_payload(meta), hashlib.sha256).hexdigest()


class SigningFailed(Exception):
    """An entry could not be signed (the store is then skipped with a warning)."""


class Trust:
    """The signing and checking a layer cache does, from the layer_cache option's trust settings.

    hmac_key: the shared secret (or None); signing_key: path of an ssh private key that signs new entries;
    allowed_signers: path of an ssh allowed-signers file that checks them; trust: 'signed' or 'unsigned'.
    """

    def __init__(self, hmac_key=None, signing_key=None, allowed_signers=None, trust="signed"):
        self.hmac_key = hmac_key or None
        self.signing_key = signing_key or None
        self.allowed_signers = allowed_signers or None
        self.trust = trust or "signed"

    @classmethod
    def from_options(cls, options, module="python_runtime"):
        """The Trust of a layer_cache option (dict). Raises AppenvError when signed entries cannot be checked."""
        options = options or {}
        trust = cls(options.get("hmac_key"), options.get("signing_key"), options.get("allowed_signers"),
                    options.get("trust") or "signed")
        if trust.trust not in TRUST_CHOICES:
            raise AppenvError("bad_argument", option="layer_cache.trust", module=module,
                              detail="trust is one of %s, not %r" % (", ".join(TRUST_CHOICES), trust.trust))
        if trust.trust == "signed" and not trust.can_verify:
            raise AppenvError("layer_cache_untrusted", module=module)
        return trust

    @property
    def can_verify(self):
        return bool(self.hmac_key or self.allowed_signers)

    @property
    def secrets(self):
        return [self.hmac_key] if self.hmac_key else []

    # -- writers -----------------------------------------------------------------------------
    def sign(self, meta, runner=None):
        """meta with its signatures (every configured scheme). Raises SigningFailed."""
        signatures = {}
        if self.hmac_key:
            signatures[HMAC] = hmac_signature(self.hmac_key, meta)
        if self.signing_key:
            signatures[SSH] = self._ssh_sign(meta, runner or CommandRunner())
        signed = dict(meta)
        signed.pop("signatures", None)
        if signatures:
            signed["signatures"] = signatures
        return signed

    def _ssh_sign(self, meta, runner):
        program = find_program("ssh-keygen")
        if program is None:
            raise SigningFailed("ssh-keygen is not installed on this host (package openssh-client)")
        result = runner.run([program, "-Y", "sign", "-f", self.signing_key, "-n", NAMESPACE],
                            what="Signing a layer cache entry", check=False,
                            stdin=signed_payload(meta).decode("ascii"))
        if result.rc != 0 or not _ARMOR.match(result.stdout or ""):
            raise SigningFailed("ssh-keygen -Y sign with %s failed (exit %d): %s"
                                % (self.signing_key, result.rc, (result.stderr or "").strip()[-300:]))
        return result.stdout

    # -- readers -----------------------------------------------------------------------------
    def check(self, meta, runner=None):
        """None when meta may be restored here, else a phrase saying why not (for a warning)."""
        if self.trust == "unsigned":
            return None
        signatures = meta.get("signatures")
        signatures = signatures if isinstance(signatures, dict) else {}
        problems = []
        if self.hmac_key:
            given = signatures.get(HMAC)
            if isinstance(given, str) and hmac.compare_digest(given, hmac_signature(self.hmac_key, meta)):
                return None
            problems.append("its HMAC is %s" % ("wrong" if given else "missing"))
        if self.allowed_signers:
            problem = self._ssh_check(meta, signatures.get(SSH), runner or CommandRunner())
            if problem is None:
                return None
            problems.append(problem)
        return "it is not signed by a key this host trusts (%s)" % "; ".join(problems)

    def _ssh_check(self, meta, signature, runner):
        if not isinstance(signature, str) or not signature:
            return "no ssh signature"
        if not _ARMOR.match(signature):
            return "its ssh signature is malformed"
        program = find_program("ssh-keygen")
        if program is None:
            return "ssh-keygen is not installed on this host (package openssh-client) to check its ssh signature"
        scratch = tempfile.mkdtemp(prefix=".appenv-signature-")
        try:
            sig_path = os.path.join(scratch, "entry.sig")
            with open(sig_path, "w") as handle:
                handle.write(signature)
            found = runner.run([program, "-Y", "find-principals", "-s", sig_path, "-f", self.allowed_signers],
                               what="Finding the signer of a layer cache entry", check=False)
            principal = (found.stdout or "").strip().split("\n")[0].split(",")[0].strip()
            if found.rc != 0 or not _PRINCIPAL.match(principal):
                return "its ssh signature is by a key %s does not list" % self.allowed_signers
            checked = runner.run([program, "-Y", "verify", "-f", self.allowed_signers, "-I", principal,
                                  "-n", NAMESPACE, "-s", sig_path],
                                 what="Checking the signature of a layer cache entry", check=False,
                                 stdin=signed_payload(meta).decode("ascii"))
            if checked.rc != 0:
                return "its ssh signature by %s does not match its metadata" % principal
            return None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
