# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  layer_cache:
    description:
      - A layer cache for hosts that are new every build (image pipelines). Before building, the layer is
        looked up there by its fingerprint key (inputs, destination path, architecture, C library,
        distribution, Python version); a hit is restored after its sha256 is checked
        (RV(layer_action=restored)) instead of being rebuilt. After a build the layer is stored there.
      - Entries are signed (O(layer_cache.hmac_key), or O(layer_cache.signing_key) with
        O(layer_cache.allowed_signers)) and bound to the request. An entry restored here carries a valid signature,
        its key is the key asked for, its inputs are this layer's, an overlay's files are files this host would
        make inside the overlay's root, and the restored layer passes the same check as an unchanged one. Any other
        entry is refused with a warning and the layer is built. Reading unsigned entries is an explicit opt-in
        (O(layer_cache.trust=unsigned)) for a cache only its user can write; without it and without a key the
        option is refused with a titled error.
      - A corrupt or truncated entry is discarded and the layer is built. A cache that cannot be read or
        written (read-only, full, a server that is down or answers with an error) gives a warning; the build
        still succeeds.
      - The cache is in one of three places - O(layer_cache.path), O(layer_cache.controller_path) or
        O(layer_cache.url) - with the same layout, so one can be served as another. A O(layer_cache) that names none
        of them fails with a titled error (leave the option out to build without a cache).
    type: dict
    suboptions:
      path:
        description:
          - Directory on the target holding the cache (for example a volume mounted into the build).
          - One of O(layer_cache.path), O(layer_cache.controller_path) and O(layer_cache.url) is required;
            they are mutually exclusive.
        type: path
      controller_path:
        description:
          - Directory on the controller holding the cache. Entries are moved over the Ansible connection,
            so nothing but Ansible is needed; the transfer happens only when the layer must be built.
          - The host checks every entry it restores with the trust options, which are passed on to it
            (O(layer_cache.signing_key) and O(layer_cache.allowed_signers) are paths on the host). The controller
            accepts from a host only a key that is a hex digest, and keeps an entry the host built only when its
            metadata is for that key and, with O(layer_cache.hmac_key), its HMAC checks out.
        type: path
      url:
        description:
          - Base URL (C(http://) or C(https://)) of a cache on an HTTP server that answers GET, HEAD and PUT,
            such as nginx with WebDAV (C(dav_methods PUT DELETE;) and C(create_full_put_path on;)), laid out like a
            O(layer_cache.path) directory. Entries are read with GET, checked against their sha256 before they
            are extracted, and stored with PUT, the archive first and its metadata last.
          - Credentials may be given in the URL (C(https://user:token@cache.example/appenv/)) or with
            O(layer_cache.url_username) and O(layer_cache.url_password); they are sent as HTTP basic auth and
            never shown in results or warnings.
          - Proxy settings from the environment (C(https_proxy), C(no_proxy)) apply.
        type: str
      url_username:
        description: User name for O(layer_cache.url) (HTTP basic auth).
        type: str
      url_password:
        description: Password or token for O(layer_cache.url) (HTTP basic auth).
        type: str
      max_size_mb:
        description:
          - Evict least recently used entries when the cache grows above this size.
          - Applies to O(layer_cache.path) and O(layer_cache.controller_path); an HTTP cache is evicted on the
            server.
        type: int
      max_age:
        description:
          - Evict entries not used for this long - a duration as O(appenv.python.app_dependencies#module:max_age) takes
            it (C(3600) seconds, C(30m), C(12h), C(7d), C(2w)).
          - Applies to O(layer_cache.path) and O(layer_cache.controller_path); an HTTP cache is evicted on the
            server.
          - Mutually exclusive with O(layer_cache.max_age_days).
        type: str
      max_age_days:
        description:
          - Deprecated, removed in 0.3.0 - use O(layer_cache.max_age) (C(max_age_days=30) is C(max_age=30d)).
          - Evict entries not used for this many days.
        type: int
      max_entry_mb:
        description:
          - The largest layer, unpacked, that is restored from the cache or stored in it. A larger entry is
            refused on restore (a warning, the layer is built), and a layer built larger than this is not stored,
            so it never churns (stored, refused, built, stored again).
          - Raise it for large environments (a CUDA stack); it guards hosts against an archive that unpacks to
            fill the disk.
        type: int
        default: 4096
      max_entry_members:
        description:
          - The most files, directories and links a layer restored from or stored in the cache may have; as
            O(layer_cache.max_entry_mb), for the member count.
        type: int
        default: 200000
      hmac_key:
        description:
          - A secret the pipeline holds (a vault value, a CI secret variable). New entries carry an HMAC-SHA256 of
            their metadata (key, kind, compression, sha256, size, layer path, the fingerprint record with its inputs,
            built_at, built_on) made with it; an entry is restored only when its HMAC checks out (or its ssh
            signature does, see O(layer_cache.allowed_signers)).
          - Every host that reads or writes the cache needs it, so whoever holds it can sign; to let hosts read
            without holding a secret, sign with O(layer_cache.signing_key) instead.
        type: str
      signing_key:
        description:
          - Path on the host of an ssh private key (without a passphrase) that signs new entries with
            C(ssh-keygen -Y sign), namespace C(appenv-layer-cache). Only hosts that build need it. C(ssh-keygen)
            (Debian package C(openssh-client)) must be installed.
          - A host that signs also needs O(layer_cache.allowed_signers) (or O(layer_cache.hmac_key)) to read.
        type: path
      allowed_signers:
        description:
          - Path on the host of an ssh allowed-signers file (C(principal key-type key) per line, see
            ALLOWED SIGNERS in the ssh-keygen manual page). An entry whose ssh signature was made by a key listed there is
            accepted (C(ssh-keygen -Y find-principals) and C(-Y verify)); hosts that only read hold this file
            and no secret.
        type: path
      trust:
        description:
          - V(signed) restores only entries with a valid signature (O(layer_cache.hmac_key) or
            O(layer_cache.allowed_signers) is required).
          - V(unsigned) restores entries without checking who wrote them, only for a cache that no other user or
            host can write (a directory of your own). Entries are still bound to the request (key, inputs, overlay
            files) and checked after the restore.
        type: str
        choices: [signed, unsigned]
        default: signed
      store:
        description:
          - V(false) makes this host a reader. It restores entries but never writes the cache (no store, no lock
            file, no hit counted, no eviction), so it needs no write access (a read-only mount, no HTTP
            credentials).
        type: bool
        default: true
      allow_shared_writable:
        description:
          - A O(layer_cache.path) directory that another user can write (world-writable, sticky or not;
            group-writable by a group other than root's; owned by another user than the one running the task and
            root), or an C(http://) O(layer_cache.url) with credentials to a host other than the loopback, is
            refused with a titled error. V(true) accepts the risk. With signed entries others can still delete
            or replace entries (a build, never a wrong restore), and HTTP credentials cross the network in the clear.
        type: bool
        default: false
      compression:
        description:
          - How new entries are stored. V(none) keeps a plain tar archive, V(gzip) compresses it (level 1, about a
            third of the size for a venv).
          - V(auto) is V(none) for O(layer_cache.path), where the cache is a local directory or volume and reading the
            plain archive is faster than decompressing the smaller one, and V(gzip) for O(layer_cache.controller_path)
            and O(layer_cache.url), whose entries cross a network.
          - Entries already stored are read whatever their compression (their metadata names it); a layer is stored
            again only when it is built.
        type: str
        choices: [auto, none, gzip]
        default: auto
"""
