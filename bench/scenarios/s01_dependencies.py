"""Scenarios 1-4: the app's dependencies, app_dependencies against ansible.builtin.pip and plain pip.

One bookworm x86_64 host with the runtime and pip_tooling (uv included); a package set of
bench/deps_set.py served on 127.0.0.1 (`hermetic`: ~50 synthetic wheels + sdists; `webapp`: Django,
gunicorn, psycopg, whitenoise from the registry, pinned); requirements.txt includes
requirements/base.txt with most of the set. Every install goes into a venv so that all variants do the
same work; wheel caches are warmed once before timing (scenario 2 is "clean install, warm cache").

1. No-op re-run: app_dependencies (kept) vs ansible.builtin.pip (state present) vs an
   ansible.builtin.stat task (the floor).
2. Clean install, pip installer: app_dependencies vs `python -m pip install -r` by hand (it compiles
   bytecode itself) vs ansible.builtin.pip.
3. Clean install: app_dependencies with uv vs with pip.
4. One included -r file changed: the rebuild vs a clean install (warm cache both).
"""

from bench import deps_set
from tests.integration import harness
from bench.context import DEFAULT_DEST, timings
from bench.registry import COST, Comparison, at_least, at_most, register

SETS = (deps_set.HERMETIC, deps_set.WEBAPP)

APP = "/srv/bench-app"
OURS = "/opt/bench/ours"
THEIRS = "/opt/bench/theirs"
PIP_CACHE = "/var/cache/bench-pip"
PIP = "ansible.builtin.pip"
STAT = "ansible.builtin.stat"
BY_HAND = "pip install -r (by hand)"


def _write_app(host, requirements, extra=""):
    base = "\n".join(requirements[1:]) + "\n"
    host.sh("mkdir -p %s/requirements && printf '%%s\\n' '-r requirements/base.txt' '%s' %s > %s/requirements.txt "
            "&& printf '%%s' '%s' > %s/requirements/base.txt" % (APP, requirements[0], extra and "'%s'" % extra,
                                                                 APP, base, APP))


def _served(ctx):
    """The index of the run's package set (SetUnavailable, a skip, when it needs an unreachable registry)."""
    return deps_set.served_index(ctx.quick, ctx.package_set or deps_set.HERMETIC, ctx.log)


def _prepare(ctx, host, index_url):
    ctx.install_runtime(host)
    ctx.task(host, "appenv.python.pip_tooling", {"index_url": index_url, "tools": [{"name": "uv"}]})
    # ansible.builtin.pip needs `packaging` in the Python that runs it: the runtime, as a pyenv-style role has.
    host.sh("%s/bin/python3 -m pip install -q --index-url %s packaging" % (DEFAULT_DEST, index_url))


def _pip_task(host, index_url):
    return harness.run_task(host, PIP, _pip_args(index_url),
                            vars={"ansible_python_interpreter": DEFAULT_DEST + "/bin/python3"})


def _deps_args(index_url, installer="pip", dest=OURS):
    return {"project_dir": APP, "installer": installer, "location": "venv", "dest": dest, "index_url": index_url}


def _pip_args(index_url):
    return {"requirements": APP + "/requirements.txt", "virtualenv": THEIRS,
            "virtualenv_command": DEFAULT_DEST + "/bin/python3 -m venv",
            "extra_args": "--index-url %s --cache-dir %s" % (index_url, PIP_CACHE)}


@register(
    1, "No-op re-run of the app's dependencies",
    Comparison("app_dependencies no-op", PIP + " no-op", "≥ 5×", at_least(5)),
    Comparison("app_dependencies no-op (task)", PIP + " no-op (task)", "≥ 5×", at_least(5)),
    Comparison("app_dependencies no-op", STAT, "≤ 1.3×", at_most(1.3), ratio=COST),
    Comparison("app_dependencies no-op (task)", STAT + " (task)", "≤ 1.1×", at_most(1.1), ratio=COST),  # issue 21
    sets=SETS,
)
def noop(ctx):
    with _served(ctx) as (index_url, requirements):  # a set that cannot be served is skipped before a host starts
        host = ctx.host()
        _prepare(ctx, host, index_url)
        _write_app(host, requirements)
        timings(ctx.task(host, "appenv.python.app_dependencies", _deps_args(index_url)), "warm-up")
        timings(_pip_task(host, index_url), "warm-up")

        def ours():
            return timings(ctx.task(host, "appenv.python.app_dependencies", _deps_args(index_url)),
                           "app_dependencies no-op", "kept")

        def theirs():
            return timings(_pip_task(host, index_url), PIP + " no-op")

        def stat():
            return timings(ctx.task(host, STAT, {"path": APP + "/requirements.txt"}), STAT)

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", ours), ("alternative", theirs), ("alternative", stat)])


@register(
    2, "Clean install, warm wheel cache, pip installer",
    Comparison("app_dependencies pip", BY_HAND, "≤ 1.15×", at_most(1.15), ratio=COST),
    Comparison("app_dependencies pip (commands)", BY_HAND, "≤ 1.15×", at_most(1.15), ratio=COST),
    Comparison("app_dependencies pip", PIP, "faster", at_least(1.0)),
    sets=SETS,
)
def clean_pip(ctx):
    with _served(ctx) as (index_url, requirements):  # a set that cannot be served is skipped before a host starts
        host = ctx.host()
        _prepare(ctx, host, index_url)
        _write_app(host, requirements)
        args = dict(_deps_args(index_url), cache_dir=PIP_CACHE)
        ctx.task(host, "appenv.python.app_dependencies", args)

        def ours():
            host.sh("rm -rf %s" % OURS)
            return timings(ctx.task(host, "appenv.python.app_dependencies", args), "app_dependencies pip", "created")

        def by_hand():
            host.sh("rm -rf %s && %s/bin/python3 -m venv --without-pip %s" % (THEIRS, DEFAULT_DEST, THEIRS))
            seconds, rc = ctx.time_in_host(host, [DEFAULT_DEST + "/bin/python3", "-m", "pip", "--python",
                                                  THEIRS + "/bin/python", "install", "-q", "--index-url", index_url,
                                                  "--cache-dir", PIP_CACHE, "-r", APP + "/requirements.txt"])
            return {BY_HAND: {"seconds": seconds, "rc": rc}}

        def theirs():
            host.sh("rm -rf %s" % THEIRS)
            return timings(_pip_task(host, index_url), PIP)

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", ours), ("alternative", by_hand), ("alternative", theirs)])


@register(
    3, "Clean install: uv installer vs pip installer",
    Comparison("app_dependencies uv", "app_dependencies pip", "≥ 3×", at_least(3)),
    Comparison("app_dependencies uv (commands)", "app_dependencies pip (commands)", "≥ 3×", at_least(3)),
    sets=SETS,
)
def clean_uv(ctx):
    with _served(ctx) as (index_url, requirements):  # a set that cannot be served is skipped before a host starts
        host = ctx.host()
        _prepare(ctx, host, index_url)
        _write_app(host, requirements)
        variants = {"uv": dict(_deps_args(index_url, "uv"), requirements=["requirements.txt"]),
                    "pip": _deps_args(index_url, "pip")}
        for args in variants.values():
            ctx.task(host, "appenv.python.app_dependencies", args)

        def install(name):
            def step():
                host.sh("rm -rf %s" % OURS)
                return timings(ctx.task(host, "appenv.python.app_dependencies", variants[name]),
                               "app_dependencies " + name, "created")
            return step

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", install("uv")), ("alternative", install("pip"))])


@register(
    4, "One included -r file changed: rebuild vs clean install (warm wheel cache)",
    Comparison("rebuild after an include changed", "clean install", "cheaper", at_most(1.0), ratio=COST),
    sets=SETS,
)
def include_changed(ctx):
    with _served(ctx) as (index_url, requirements):  # a set that cannot be served is skipped before a host starts
        host = ctx.host()
        _prepare(ctx, host, index_url)
        _write_app(host, requirements)
        args = _deps_args(index_url)
        ctx.task(host, "appenv.python.app_dependencies", args)
        state = {"extra": False}

        def rebuild():
            state["extra"] = not state["extra"]
            _write_app(host, requirements[:-1] if state["extra"] else requirements)
            return timings(ctx.task(host, "appenv.python.app_dependencies", args), "rebuild after an include changed",
                           "recreated")

        def clean():
            host.sh("rm -rf %s" % OURS)
            return timings(ctx.task(host, "appenv.python.app_dependencies", args), "clean install", "created")

        for repetition in ctx.rounds():
            yield from ctx.alternate(repetition, [("us", rebuild), ("alternative", clean)])
