# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one catalogue of errors a user of appenv.python can meet.

Every foreseeable failure is raised as ``AppenvError(code, **fields)``. The code
names an entry below, which holds the title, the cause (a template filled from
``fields``), whose fault it is and numbered ways to fix it. Modules turn it into
``fail_json`` with ``msg`` (the whole text) and ``error`` (the parts), so no
traceback reaches a user. docs/troubleshooting.md is generated from this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

# Whose fault a failure is: the user must know whether to fix their app, their
# inventory, their network, or report a bug.
FAULT_APP = "the app's files"
FAULT_TASK = "the task's arguments"
FAULT_NETWORK = "the network, mirror or package index"
FAULT_HOST = "the target host"
FAULT_COLLECTION = "appenv.python (please report it)"

ErrorSpec = collections.namedtuple("ErrorSpec", "title cause fault fixes")

CATALOGUE = {
    # --- engine ----------------------------------------------------------------
    "layer_locked": ErrorSpec(
        "Another run holds the layer lock",
        "Waited {waited} s for the lock {lock_path}, held by another appenv.python run on this host.",
        FAULT_HOST,
        (
            "Wait for the other run to finish, then run again.",
            "If no other run is active, the kernel releases the lock when its holder exits: "
            "look for a hung process ({holder}).",
            "Raise the lock_timeout option if runs are expected to overlap for longer.",
        ),
    ),
    "layer_build_failed": ErrorSpec(
        "Building the {kind} layer failed",
        "{detail}",
        FAULT_COLLECTION,
        (
            "Run again with -vvv to see every command and its output.",
            "The previous layer at {path} was restored and still works.",
        ),
    ),
    "layer_no_space": ErrorSpec(
        "No space left while building the {kind} layer",
        "Writing to {path} failed: {detail}",
        FAULT_HOST,
        (
            "Free space on the filesystem holding {path} (df -h {path}).",
            "Point the layer at a larger filesystem.",
            "The previous layer at {path} was restored and still works.",
        ),
    ),
    "layer_not_writable": ErrorSpec(
        "The {kind} layer's location is not writable",
        "Cannot write to {path}: {detail}",
        FAULT_HOST,
        (
            "Run the task with become: true, or as a user that owns {parent}.",
            "Choose a destination on a writable filesystem (it may be mounted read-only).",
        ),
    ),
    "layer_switch_failed": ErrorSpec(
        "The new {kind} layer could not be switched in at {path}",
        "The new version {version} was built, but {path} could not be made a symbolic link to it: {detail}. "
        "The live version was not changed (the app keeps running on it) and the new one was removed.",
        FAULT_HOST,
        (
            "A venv or target layer is switched in by renaming a symbolic link over {path}: put it on a file system "
            "that has symbolic links and rename (not vfat; some network shares lack them).",
            "If {path} is a mount point it cannot be replaced: mount its parent directory instead.",
            "Run the task as a user who may write {parent} (become: true, or the app user who owns it).",
        ),
    ),
    # --- command runner --------------------------------------------------------
    "command_not_found": ErrorSpec(
        "A required program is missing on the host",
        "{program} could not be started: {detail}",
        FAULT_HOST,
        (
            "Install {program} on the host, or install the layer that provides it first (python_runtime, pip_tooling).",
            "Check the executable path given to the task.",
        ),
    ),
    "command_failed": ErrorSpec(
        "{what} failed",
        "{command} exited with status {rc}:\n{output}",
        FAULT_APP,
        (
            "Read the command's own message above: it names the package or file at fault.",
            "Run again with -vvv to see every command and its full output.",
        ),
    ),
    "command_timeout": ErrorSpec(
        "{what} took too long",
        "{command} was stopped after {timeout} s. What it printed last:\n{output}",
        FAULT_NETWORK,
        (
            "Check that the host reaches its mirror or package index quickly.",
            "Raise the task's timeout option if the step is expected to be slow.",
        ),
    ),
    # --- downloads and archives -------------------------------------------------
    "download_failed": ErrorSpec(
        "Download failed",
        "{url} could not be downloaded after {attempts} attempt(s); the last error was: {error}",
        FAULT_NETWORK,
        (
            "Check that the host reaches {url} (proxy settings, firewall, DNS): try curl -fsSI from the host as the same user.",
            "An HTTP 404 or 403 is not retried: check that the mirror serves the file at that path, and the credentials in the URL.",
            "For a mirror that is only briefly unavailable or slow, raise the retries or timeout option and run again.",
            "Nothing partial was kept: the next run downloads the file afresh.",
        ),
    ),
    # --- company networks (docs/guides/company-networks.md) ---------------------------------------
    "network_tls_untrusted": ErrorSpec(
        "The server's TLS certificate is not trusted (a private CA?)",
        "The certificate presented was not signed by a CA this host trusts. On a company network this is "
        "a TLS-inspecting proxy or an internal index or mirror with its own CA:\n{detail}",
        FAULT_NETWORK,
        (
            "Give the task the CA bundle with Ansible's environment keyword, set to SSL_CERT_FILE: "
            "/path/on/the/host/ca.pem (SSL_CERT_DIR for a directory of certificates). pip, uv (then run with "
            "the system certificates), poetry, pipenv and appenv.python's own downloads all use it.",
            "Or add the CA to the host's system store (update-ca-certificates) and pass SSL_CERT_FILE="
            "/etc/ssl/certs/ca-certificates.crt, so installers that bring their own roots use it too.",
            "Do not turn certificate checks off: the proxy's CA is what makes the connection trustworthy.",
            "Nothing was changed: the previous layer is still in place.",
        ),
    ),
    "network_proxy_failed": ErrorSpec(
        "The connection through the proxy failed",
        "The index or mirror could not be reached through the proxy ({proxies}):\n{detail}",
        FAULT_NETWORK,
        (
            "Check the proxy address and port given with Ansible's environment keyword, set to https_proxy "
            "and http_proxy: http://proxy:3128 (try curl -fsSI through it from the host).",
            "Hosts that must not go through the proxy (an internal index, 127.0.0.1) belong in no_proxy.",
            "If the proxy needs credentials, put them in the proxy URL (http://user:pass@proxy:3128); they are "
            "never shown.",
            "Nothing was changed: the previous layer is still in place.",
        ),
    ),
    "checksum_mismatch": ErrorSpec(
        "Archive sha256 does not match",
        "{url} has sha256 {actual}, but {expected} was expected. Nothing from it was used.",
        FAULT_NETWORK,
        (
            "Check the mirror: it must serve the same files as the release it copies (a proxy or a re-upload may have changed them).",
            "If the release itself changed, refresh the release table with scripts/refresh_python_releases.py and review the difference.",
            "Never bypass the check: a mismatching archive may have been tampered with.",
        ),
    ),
    "checksum_missing": ErrorSpec(
        "No valid sha256 for a download",
        "{url} was asked for with the sha256 {value}; 64 hexadecimal digits are required before anything is downloaded.",
        FAULT_TASK,
        (
            "Give the archive's sha256 (64 hex digits), taken from the release's SHA256SUMS file or the release table.",
            "Never compute it from a file you just downloaded from the same mirror: that checks nothing.",
        ),
    ),
    "download_bad_url": ErrorSpec(
        "Cannot download from this URL",
        "{url}: {detail}",
        FAULT_TASK,
        (
            "Use an https://, http:// or file:// URL (file:// names a path on the target host).",
            "Percent-encode special characters in credentials inside the URL (user:p%40ss@host).",
        ),
    ),
    "archive_corrupt": ErrorSpec(
        "Archive is corrupt or truncated",
        "{archive} could not be read: {detail}",
        FAULT_NETWORK,
        (
            "Download the archive again; check the mirror's copy against its SHA256SUMS.",
            "If the archive is a local file (src), copy it again: it may have been cut short.",
            "The previous layer, if any, was left in place.",
        ),
    ),
    "archive_unsafe": ErrorSpec(
        "Archive refused as unsafe",
        "{archive} holds {member}: {why}. Nothing was extracted.",
        FAULT_NETWORK,
        (
            "Use an archive from a trusted source (python-build-standalone or a verbatim mirror of it).",
            "If you built the archive yourself, build it with relative paths only (tar -C dir .), without device files, fifos, or links that point outside it.",
            "If it is genuinely larger than the limit, it is not a runtime archive: check the file at that name.",
        ),
    ),
    "archive_unsupported": ErrorSpec(
        "Archive format not readable on this host",
        "{archive} is compressed with {format}, which this host's Python {python} cannot read.",
        FAULT_HOST,
        (
            "Use a .tar.gz or .tar.xz archive (python-build-standalone publishes install_only archives as .tar.gz).",
            "Or run the task with a Python on the host that reads {format} (zstd needs Python 3.14 or later).",
        ),
    ),
    # --- version requests (controller) -------------------------------------------
    "version_file_invalid": ErrorSpec(
        "Unreadable Python version request in {file}",
        "{file} says {value!r}: {detail}.",
        FAULT_APP,
        (
            "Write the version as X.Y or X.Y.Z (e.g. 3.12) in .python-version or runtime.txt (python-3.12).",
            "Use a PEP 440 specifier (e.g. >=3.11,<3.13) in pyproject.toml's project.requires-python.",
            "Or set the version option of the task, which takes precedence.",
        ),
    ),
    "version_conflict": ErrorSpec(
        "Python version files disagree",
        "{first} asks for {first_value!r}, which gives Python {version}, but {second} asks for {second_value!r}.",
        FAULT_APP,
        (
            "Make the two files agree (e.g. raise the version in {first} or widen the range in {second}).",
            "Remove the file that is out of date.",
            "Or set the version option of the task explicitly.",
        ),
    ),
    "version_unknown": ErrorSpec(
        "No Python release matches the request",
        "Nothing available for {triple} satisfies {request}. Newest available: {available}.",
        FAULT_APP,
        (
            "Ask for one of the available versions.",
            "If the version was released recently, refresh the release table (scripts/refresh_python_releases.py) "
            "or point mirror/release at a release that has it.",
        ),
    ),
    "version_eol": ErrorSpec(
        "Python {minor} has reached its end of life",
        "{source} resolves to Python {version}, which this host does not have yet (or must rebuild); Python {minor} "
        "stopped receiving security fixes on {date}, so a new install of it is refused.",
        FAULT_APP,
        (
            "Upgrade the app to a supported Python (the newest available is {newest}) and update {source}.",
            "If you must install it for now, set allow_eol: true on the task (a warning says so on every run).",
            "A host that already has this runtime keeps it unchanged with a warning; only new installs and rebuilds "
            "stop here.",
        ),
    ),
    "mirror_unreachable": ErrorSpec(
        "The runtime mirror cannot be read",
        "{url} could not be fetched after {attempts} attempt(s): {error}",
        FAULT_NETWORK,
        (
            "Check the mirror and release options: {url} must exist (python-build-standalone layout).",
            "Check that the controller reaches the mirror (proxy, firewall, DNS).",
            "For air-gapped builds use the archive option with a file on the controller.",
        ),
    ),
    "archive_name_unrecognised": ErrorSpec(
        "Runtime archive name not recognised",
        "{name} does not follow python-build-standalone's naming (cpython-X.Y.Z+RELEASE-TRIPLE-install_only[_stripped].tar.gz).",
        FAULT_TASK,
        (
            "Keep the archive's original file name.",
            "Or give version, url/src and sha256 explicitly.",
        ),
    ),
    "arch_unsupported": ErrorSpec(
        "Host architecture not supported",
        "The host reports {machine}; appenv.python has runtimes for x86_64 and aarch64.",
        FAULT_HOST,
        ("Run the play against an x86_64 or aarch64 host, or set arch explicitly if the report is wrong.",),
    ),
    "controller_dependency_missing": ErrorSpec(
        "A Python package is missing on the controller",
        "The controller's Python has no {package}, needed for {purpose}.",
        FAULT_HOST,
        (
            "Install it where ansible-playbook runs: pip install {package} (ansible-core normally brings it).",
            "In an execution environment, build it from meta/execution-environment.yml.",
        ),
    ),
    # --- python_runtime ---------------------------------------------------------
    "runtime_wrong_arch": ErrorSpec(
        "Runtime archive is for another architecture",
        "The archive asked for is built for {wanted}, but this host is {host}.",
        FAULT_TASK,
        (
            "Leave the arch option unset so the host's own architecture is used.",
            "Pin an archive (sha256, url) built for {host}.",
        ),
    ),
    "runtime_layout_unexpected": ErrorSpec(
        "Runtime archive has an unexpected layout",
        "{archive} has no python/bin/python{minor}; its top level holds: {found}.",
        FAULT_NETWORK,
        (
            "Use an install_only or install_only_stripped archive of python-build-standalone, or one with the same layout.",
            "Check that the version in the archive's name matches its contents.",
        ),
    ),
    "runtime_broken": ErrorSpec(
        "The new Python interpreter does not start on this host",
        "{interpreter} (built for {arch}, host is {host_arch}) failed:\n{output}",
        FAULT_HOST,
        (
            "Check that the archive is built for this host's architecture and C library.",
            "Check that the host's libc is not older than the one the archive needs.",
            "The previous runtime, if any, was left in place.",
        ),
    ),
    "runtime_version_mismatch": ErrorSpec(
        "Runtime archive holds another Python version",
        "{archive} was expected to contain Python {expected}, but its interpreter says {actual}.",
        FAULT_NETWORK,
        (
            "Check the mirror: the file at that name is not what its name says.",
            "Refresh the release table (scripts/refresh_python_releases.py) if the table is wrong.",
        ),
    ),
    "compiler_not_found": ErrorSpec(
        "The compiler named for C extensions is not on the host",
        "The task asks for the compiler {compiler}, but {where}. The runtime's build settings would name a "
        "program that cannot run, so every sdist with a C extension would fail to build.",
        FAULT_HOST,
        (
            "Install the compiler on the host first (Debian: apt-get install gcc) and run again.",
            "Name a compiler that exists on the host in the compiler option (a program on {path}, or an absolute path).",
            "Leave compiler unset: the runtime then names the host's cc and c++.",
        ),
    ),
    "runtime_settings_unreadable": ErrorSpec(
        "The runtime's build settings cannot be rewritten to this host",
        "{path} in the archive {archive} is not what CPython writes: {detail}",
        FAULT_NETWORK,
        (
            "Use an install_only or install_only_stripped archive of python-build-standalone, or one built the same way.",
            "Check the mirror: the archive may have been altered after it was built.",
        ),
    ),
    # --- bytecode ------------------------------------------------------------------
    "interpreter_unknown": ErrorSpec(
        "Cannot tell the Python version of the interpreter",
        "{interpreter} is not named pythonX.Y and has no pyvenv.cfg or lib/pythonX.Y beside it.",
        FAULT_TASK,
        (
            "Point interpreter at the runtime's versioned interpreter (e.g. /opt/appenv/python/bin/python3.12).",
            "Check that the runtime is installed (appenv.python.python_runtime) before compiling bytecode.",
        ),
    ),
    # --- packaging tools and dependencies --------------------------------------------
    "runtime_missing": ErrorSpec(
        "No Python runtime at {runtime}",
        "{runtime} holds no runtime installed by appenv.python.python_runtime ({detail}).",
        FAULT_TASK,
        (
            "Run appenv.python.python_runtime with dest: {runtime} before {module}.",
            "Or point the runtime option of {module} at the dest of your python_runtime task.",
        ),
    ),
    "tool_missing": ErrorSpec(
        "The {tool} installer is not installed",
        "{detail}",
        FAULT_TASK,
        (
            "Install it first: appenv.python.pip_tooling with tools: [{{name: {tool}}}] (the same tools_dir).",
            "Or point the tools_dir option at the directory where pip_tooling put it.",
        ),
    ),
    "tool_install_failed": ErrorSpec(
        "{what} failed",
        "{command} exited with status {rc}:\n{output}",
        FAULT_NETWORK,
        (
            "Check that the host reaches the package index and that it serves the versions asked for (the message above names what is missing).",
            "Pin a version the index has (the pip, setuptools, wheel and tools options).",
            "The previous tools were left in place.",
        ),
    ),
    "installer_conflict": ErrorSpec(
        "The app's files name more than one package manager",
        "{project_dir} holds {files}: each belongs to another installer ({installers}), and appenv.python will not guess.",
        FAULT_APP,
        (
            "Delete the files of the package manager the app no longer uses.",
            "Or set installer: explicitly in the task (one of {installers}).",
        ),
    ),
    "installer_files_missing": ErrorSpec(
        "No dependency files for {installer} in {project_dir}",
        "{detail}",
        FAULT_APP,
        (
            "Add the file(s) the installer needs ({needs}) to the app, or fix project_dir.",
            "Or choose another installer (installer: pip | uv | poetry | pipenv), or requirements: for other file names.",
        ),
    ),
    "requirements_missing": ErrorSpec(
        "Requirements file not found: {path}",
        "{path}{via} does not exist.",
        FAULT_APP,
        (
            "Create {path}, or fix the -r/-c line or the requirements option that names it "
            "(include paths are relative to the including file).",
        ),
    ),
    "requirements_cycle": ErrorSpec(
        "Requirements files include each other in a cycle",
        "{chain}",
        FAULT_APP,
        ("Remove one of the -r/-c lines of that chain: each file may be included once on a path.",),
    ),
    "requirements_invalid": ErrorSpec(
        "Invalid line in {path}",
        "{path}, line {line}: {detail}",
        FAULT_APP,
        ("Fix that line (pip's requirements file format), then run again. Nothing was installed.",),
    ),
    "deps_not_found": ErrorSpec(
        "A dependency is not on the package index",
        "{installer} could not find a distribution the app asks for:\n{output}",
        FAULT_APP,
        (
            "Check the name and version in the app's requirement or lock file (the message above names it).",
            "Check that index_url / extra_index_urls point at the index that publishes it.",
            "The previous environment at {dest} was restored and still works.",
        ),
    ),
    "deps_build_failed": ErrorSpec(
        "A dependency failed to build from source",
        "{installer} had to build an sdist and the build failed:\n{output}",
        FAULT_APP,
        (
            "Read the build's own message above: a missing compiler or C header on the host, or a bug in that release.",
            "Pin a version that publishes a wheel for this Python and arch, or install the build dependencies first.",
            "The previous environment at {dest} was restored and still works.",
        ),
    ),
    "deps_index_unreachable": ErrorSpec(
        "The package index cannot be reached",
        "{installer} could not talk to the index:\n{output}",
        FAULT_NETWORK,
        (
            "Check that the host reaches the index (proxy, firewall, DNS), and the credentials given.",
            "Check index_url / extra_index_urls; raise retries or timeout for a slow index.",
            "The previous environment at {dest} was restored and still works.",
        ),
    ),
    "deps_install_failed": ErrorSpec(
        "Installing the app's dependencies failed",
        "{command} exited with status {rc}:\n{output}",
        FAULT_APP,
        (
            "Read the installer's own message above: it names the requirement or file at fault.",
            "Run again with -vvv to see every command and its full output.",
            "The previous environment at {dest} was restored and still works.",
        ),
    ),
    "deps_conflict": ErrorSpec(
        "The installed dependencies conflict",
        "pip check found requirements that are not met:\n{output}",
        FAULT_APP,
        (
            "Pin versions that agree in the app's requirements (each line above names the package and what it needs).",
            "Set pip_check: false only if the app is known to work with these versions.",
            "The previous environment at {dest} was restored and still works.",
        ),
    ),
    # --- arguments ------------------------------------------------------------
    "layer_cache_unreadable": ErrorSpec(
        "The layer cache cannot be listed",
        "Listing the layer cache {cache} failed: {detail}",
        FAULT_NETWORK,
        (
            "For a directory, check that it exists on the host and that the task's user may read it.",
            "For a URL, check that the host reaches it (curl -fsS from the host) and the credentials.",
            "A server that answers GET and PUT but gives no directory listing cannot be listed: turn on a listing "
            "(nginx: autoindex on; autoindex_format json;), or run layer_cache_info with path on the server's "
            "cache directory (the layout is the same).",
        ),
    ),
    "bad_argument": ErrorSpec(
        "Invalid value for {option}",
        "{detail}",
        FAULT_TASK,
        ("Fix the value of {option} in the task; ansible-doc appenv.python.{module} lists what it accepts.",),
    ),
    "internal_error": ErrorSpec(
        "Unexpected internal error in appenv.python",
        "{detail}",
        FAULT_COLLECTION,
        (
            "Run again with -vvv and report the output to the appenv.python issue tracker.",
            "The previous layer was left in place.",
        ),
    ),
    # --- version requests, end of life, variants (issues 18 and 19) ---------------------
    "version_request_invalid": ErrorSpec(
        "Python version request not understood: {value!r}",
        "{source} asks for {value!r}, which is none of the forms appenv.python reads{detail}.",
        FAULT_APP,
        (
            "Write an exact version (3.12.7), a minor (3.12 or 3.12.*: its newest patch), a major (3 or 3.*) or * "
            "(the newest), with a t for the free-threaded build (3.13t).",
            "Or a PEP 440 specifier, as pip, uv and poetry read requires-python: >=3.11,<3.13, ~=3.12.0, ==3.12.*.",
            "Or leave the version unset: the newest supported Python is installed, with a warning to pin it.",
        ),
    ),
    "variant_unavailable": ErrorSpec(
        "No {variant} build of the requested Python",
        "{request} has a default build for {triple} (newest {default}) but no {variant} one. {variant} builds "
        "available: {available}.",
        FAULT_APP,
        (
            "Ask for a version that has a {variant} build (free-threaded CPython exists from 3.13; the release table "
            "keeps only install_only .tar.gz archives, which python-build-standalone publishes for the newer patches).",
            "Or drop variant: {variant} (or the t after the version) to install the default build.",
            "Or point mirror/release at a release that has the archive (scripts/refresh_python_releases.py refreshes "
            "the table).",
        ),
    ),
    "variant_conflict": ErrorSpec(
        "The Python variant is asked for twice, differently",
        "{source} asks for the {variant} build, but the task's variant option says {option}.",
        FAULT_TASK,
        (
            "Make them agree: drop the variant option, or write the version in {source} without (or with) the t "
            "suffix.",
        ),
    ),
    "runtime_variant_mismatch": ErrorSpec(
        "The runtime archive is not the {expected} build",
        "{archive} was installed as the {expected} build, but its interpreter reports the {actual} one "
        "(sysconfig Py_GIL_DISABLED).",
        FAULT_TASK,
        (
            "Set variant to match the archive (python-build-standalone names free-threaded archives "
            "...-freethreaded-install_only...).",
            "Or use the archive of the variant you want.",
        ),
    ),
    # --- hardening (issue 16; docs/security.md#hardening) ------------------------------------------
    "download_too_large": ErrorSpec(
        "The download is larger than its cap",
        "{url} sent more than {cap} bytes ({error}); the download was cut off and nothing of it was kept.",
        FAULT_NETWORK,
        (
            "Check that {url} serves the file you expect: a mirror that sends more than the archive's size is "
            "misconfigured or hostile.",
            "If the file really is that large, raise the max_download_mb option.",
        ),
    ),
    "download_too_slow": ErrorSpec(
        "The download took longer than its deadline",
        "{url} did not finish within {seconds} s ({received} bytes arrived): the timeout option bounds the whole "
        "download, so a server that drip-feeds bytes cannot hold the task.",
        FAULT_NETWORK,
        (
            "Check the mirror's speed from the host, as the same user: time curl -fsSo /dev/null {url}.",
            "If the link is slow but sound, raise the timeout option.",
        ),
    ),
    "layer_lock_unsupported": ErrorSpec(
        "The filesystem of the layer cannot lock",
        "Locking {lock_path} failed with \"{error}\": its filesystem ({filesystem}) does not support flock "
        "(NFS without a lock manager, some FUSE filesystems). Runs on the layer cannot be serialised there.",
        FAULT_HOST,
        (
            "Put the layer (its dest, or pyc_compile's state_dir) on a local filesystem: the lock file lives next "
            "to the layer.",
            "For NFS, mount with working locks (NFSv4, or NFSv3 with rpc.statd/lockd running; not the nolock "
            "option).",
        ),
    ),
    "runtime_mirror_sha_differs": ErrorSpec(
        "The mirror serves a different {archive}",
        "The release table shipped with appenv.python gives {archive} of release {release} the sha256 {expected}, "
        "but the mirror {mirror} lists {actual} for it in its SHA256SUMS: the mirror serves a different file.",
        FAULT_NETWORK,
        (
            "Make the mirror serve the file python-build-standalone published (compare it with the release's "
            "own SHA256SUMS).",
            "To install a file of your own build, name it with url and sha256 (or archive) instead of mirror and "
            "release.",
        ),
    ),
    # --- bring your own interpreter (issue 19, section 2) ---------------------------------
    "interpreter_unusable": ErrorSpec(
        "The interpreter {interpreter} cannot carry {module}'s layers",
        "{interpreter} was named by the interpreter option, but {detail}.",
        FAULT_TASK,
        (
            "Point interpreter at a CPython 3.8 or later (e.g. /usr/bin/python3, a pyenv build's bin/python3.12).",
            "Install it first (apt-get install python3 python3-venv python3-pip on Debian, or a pyenv build).",
            "Or drop interpreter and let appenv.python.python_runtime install a runtime (the runtime option).",
        ),
    ),
    "interpreter_unsafe": ErrorSpec(
        "The interpreter {interpreter} can be changed by another user",
        "{module} runs as root, and {path} (the interpreter, its libpython or a directory above them) is owned by "
        "another user or writable by group or others: whoever can write it could run code as root.",
        FAULT_HOST,
        (
            "Make {path} owned by root and not writable by group or others (chown root:root, chmod go-w).",
            "Or run the task as the user who owns the interpreter (become_user), with dest paths that user owns.",
        ),
    ),
    "interpreter_externally_managed": ErrorSpec(
        "{interpreter} is externally managed (PEP 668): {what} is refused",
        "{interpreter} belongs to the system's package manager ({marker} exists): packages installed into it or "
        "its user site would collide with the distribution's packages, so {module} refuses {what}.",
        FAULT_TASK,
        (
            "Use location: venv (app_dependencies; on Debian it needs python3-venv): the app gets its own venv on "
            "top of {interpreter}.",
            "For pip_tooling set pip, setuptools and wheel to an empty string (the tools' venvs still work), or "
            "install the distribution's packages (apt-get install python3-pip).",
            "Or install a runtime of your own with appenv.python.python_runtime and drop interpreter.",
        ),
    ),
    # -- issue 18: lock files and the runtime they were made for ---------------------------------------------
    "deps_lock_stale": ErrorSpec(
        "{lock} no longer matches {project}",
        "{project} was changed after {lock} was made (a dependency added, removed or changed, or the Python "
        "range), so the lock does not say what the app asks for; {installer} refuses it:\n{output}",
        FAULT_APP,
        (
            "Run {relock} in the app's directory, test the app, and commit the new lock with the project file.",
            "Or put the project file back as it was when the lock was made.",
            "Nothing was installed: the previous environment is intact.",
        ),
    ),
    "deps_python_excluded": ErrorSpec(
        "The app does not accept Python {version}",
        "{file} requires Python {specifier}, and the runtime at {runtime} is {version}; nothing was installed.",
        FAULT_APP,
        (
            "Install a runtime the app accepts (python_runtime version, or the app's .python-version) and point "
            "the task's runtime at it.",
            "Or widen the range in the project file and make the lock again ({installer}'s lock command), if the "
            "app does work with {version}.",
        ),
    ),
    # --- layer cache trust (issue 16) ------------------------------------------------
    "layer_cache_untrusted": ErrorSpec(
        "The layer cache has no way to check who wrote its entries",
        "{module} was given a layer_cache with trust: signed (the default) but neither hmac_key nor "
        "allowed_signers, so no entry could ever be restored: whoever can write a cache could otherwise plant "
        "code that runs on every host that restores it.",
        FAULT_TASK,
        (
            "Set layer_cache.hmac_key to a secret the pipeline holds (from a vault or a CI secret variable); "
            "every host that reads or writes the cache needs it.",
            "Or sign with ssh keys: layer_cache.signing_key (a private key, on the hosts that build) and "
            "layer_cache.allowed_signers (an allowed-signers file, on every host that restores); readers hold "
            "no secret.",
            "For a cache that only you can write (a directory of your own), set layer_cache.trust: unsigned.",
        ),
    ),
    "layer_cache_shared_writable": ErrorSpec(
        "The layer cache directory can be written by other users",
        "{module} was pointed at the layer cache {cache}, but {why}: another user could plant an entry there.",
        FAULT_HOST,
        (
            "Make the directory writable by its owner only (chmod 0755 {cache}; chown it to the user that runs "
            "the task, or root).",
            "Give each user a cache directory of its own.",
            "If every entry is signed (hmac_key or allowed_signers) and you accept that other users can delete "
            "or replace entries, set layer_cache.allow_shared_writable: true.",
        ),
    ),
    "layer_cache_cleartext_credentials": ErrorSpec(
        "The layer cache URL sends credentials in the clear",
        "{module} was given the layer cache {cache}: an http:// URL with credentials, which anyone on the path "
        "can read and then write the cache with.",
        FAULT_TASK,
        (
            "Use an https:// URL for the cache.",
            "Hosts that only read the cache need no credentials: drop them and set layer_cache.store: false.",
            "If the network between the host and the server is trusted, set layer_cache.allow_shared_writable: "
            "true.",
        ),
    ),
    "layer_cache_bad_key": ErrorSpec(
        "A host sent the controller a layer cache key that is not one",
        "The host answered the controller's layer cache with the key {key}, which is not a 64-digit hex "
        "digest; the controller makes no path of it and has written nothing.",
        FAULT_HOST,
        (
            "Check the host: a module that answers with such a key was changed or is not this collection's.",
            "Run without layer_cache.controller_path for this host until it is rebuilt from a trusted image.",
        ),
    ),
    # --- least privilege (docs/security.md) --------------------------------------
    "unsafe_path": ErrorSpec(
        "Root will not {what}: {path} can be written by another user",
        "{path} is {why} (owner {owner}, mode {mode}). Running as root, appenv.python never executes an interpreter "
        "or .pth file, nor writes into a tree, that a less-privileged user can write: that user could make root "
        "run their code or write where they choose.",
        FAULT_TASK,
        (
            "Run the task as the user who owns what it writes: become_user: {owner} (roles/app does this for "
            "app-owned code with appenv_app_code_owner: app).",
            "Or give the path to root and take group and others' write access away: chown root: {path}; "
            "chmod go-w {path}. roles/app lays the code out that way by default (appenv_app_code_owner: root).",
            "To compile root-owned code, use the runtime's own interpreter (python_runtime's interpreter), "
            "not a venv another user owns: the pyc names depend only on the Python version.",
        ),
    ),
    "tree_symlink": ErrorSpec(
        "Refusing to write through the link {path}",
        "{path} is a symbolic link to {target}, inside the tree {tree}: writing through it would put files where "
        "the link points, outside the tree, where nothing checks them against a source.",
        FAULT_APP,
        (
            "Remove the link (rm {path}); the next run makes a real directory in its place.",
            "To keep bytecode elsewhere, set PYTHONPYCACHEPREFIX for the app instead of linking __pycache__.",
        ),
    ),
    # --- app_code: the app's code as a layer ------------------------------------------
    "code_src_link": ErrorSpec(
        "The app's code at {src} holds a link app_code will not follow: {path}",
        "{path} is a symbolic link to {target}, {why}. app_code sends the files of the tree, and a link to a "
        "directory, or out of the tree, would send files that are not part of the app's code (or the same "
        "files twice).",
        FAULT_APP,
        (
            "Replace the link with the file or directory it points at, or remove it from {src}.",
            "A link to a file inside the tree is fine: its content is sent as a file.",
        ),
    ),
    "code_link_in_the_way": ErrorSpec(
        "Refusing to write the app's code through the link {path}",
        "{path}, inside {dest}, is a symbolic link (or not a directory) where the code has a directory: writing "
        "through it would put the code, as the task's user, where the link points.",
        FAULT_HOST,
        (
            "Check who made the link (the app user can write an app-owned tree); remove it (rm {path}) and "
            "run again: the code's directory is made in its place.",
        ),
    ),
    "code_archive_mismatch": ErrorSpec(
        "The app's code that reached the host does not match what the controller listed",
        "The archive sent for {dest} does not match its listing: {detail}. That file was not written, and the "
        "layer is not recorded as written: the next run writes the code again.",
        FAULT_HOST,
        (
            "Run again: the controller lists and sends the tree again. If it repeats, something on the way "
            "changes files (a full disk on the host's temporary directory, say).",
        ),
    ),
    # -- issue 18: what users of ansible.builtin.pip expect (state, force, extra_args) ----------------------
    "deps_extra_args_refused": ErrorSpec(
        "extra_args holds {option}, which app_dependencies sets itself",
        "{option} in extra_args ({args}) decides {decides}; the module sets that from its own options, and the "
        "fingerprint would not describe what was installed.",
        FAULT_TASK,
        (
            "Remove {option} from extra_args.",
            "For where the packages go (--target, --user, --prefix, --root, --python, --system), set location and "
            "dest (interpreter for another Python).",
            "For requirement, constraint and editable files (-r, -c, -e), name them in requirements: their content "
            "is part of the fingerprint.",
            "extra_args is for the installer's other options (--only-binary, --no-binary, --prefer-binary, "
            "--trusted-host, --pre, ...): they go to {installer} install, and a change of them rebuilds the layer.",
        ),
    ),
}


def render(title, cause, fault, fixes):
    lines = [title, "Cause: " + cause, "Whose fault: " + fault, "How to fix it:"]
    lines.extend("  %d. %s" % (number, fix) for number, fix in enumerate(fixes, 1))
    return "\n".join(lines)


class _SafeFields(dict):
    def __missing__(self, key):
        return "<" + key + ">"


class AppenvError(Exception):
    """A foreseeable failure, described by an entry of CATALOGUE."""

    def __init__(self, code, **fields):
        spec = CATALOGUE.get(code)
        if spec is None:
            spec = CATALOGUE["internal_error"]
            fields = {"detail": "unknown error code %r (%r)" % (code, fields)}
            code = "internal_error"
        self.code = code
        self.fields = fields
        values = _SafeFields((key, value) for key, value in fields.items())
        self.title = spec.title.format_map(values)
        self.cause = spec.cause.format_map(values)
        self.fault = spec.fault
        self.fixes = tuple(fix.format_map(values) for fix in spec.fixes)
        super(AppenvError, self).__init__(self.message)

    @property
    def message(self):
        return render(self.title, self.cause, self.fault, self.fixes)

    def as_result(self):
        """The keys a module passes to fail_json."""
        return {
            "msg": self.message,
            "error": {
                "code": self.code,
                "title": self.title,
                "cause": self.cause,
                "fault": self.fault,
                "fixes": list(self.fixes),
            },
        }
