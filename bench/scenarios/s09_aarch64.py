"""Scenario 9: scenarios 1, 3 and 5 on an aarch64 host, emulated by qemu (binfmt) on the x86_64 machine.

The same scenario code runs twice in one benchmark run, on a bookworm x86_64 host and on a bookworm
arm64 host (the test bed's arm64 image and aarch64 CPython archive; the package index serves the
aarch64 tool wheels, uv's included), so both arches see the same load. Variants carry the arch in
front of their name (`aarch64: app_dependencies no-op`) and every sample records `arch`:

- 1: the no-op of app_dependencies against ansible.builtin.pip's and an ansible.builtin.stat task;
- 3: a clean install with uv against one with pip;
- 5: pyc_compile against `compileall -q` and its no-op against a compile, on the runtime's whole
  stdlib (with --quick: its `email` package), as scenario 5.

Emulation slows every instruction on the host (the interpreter, the installers, the compiler) but not
the controller's Ansible, so the ratios say whether our advantage holds where the host's work dominates.
"""

import dataclasses

from bench import deps_set
from bench.registry import SCENARIOS, register
from bench.scenarios import s01_dependencies, s05_pyc_compile

ARCHES = ("x86_64", "aarch64")
# The rows of scenarios 1, 3 and 5 compared across arches: (scenario, us, alternative).
PICKED = (
    (1, "app_dependencies no-op", "ansible.builtin.pip no-op"),
    (1, "app_dependencies no-op (task)", "ansible.builtin.pip no-op (task)"),
    (1, "app_dependencies no-op", "ansible.builtin.stat"),
    (1, "app_dependencies no-op (task)", "ansible.builtin.stat (task)"),
    (3, "app_dependencies uv", "app_dependencies pip"),
    (3, "app_dependencies uv (commands)", "app_dependencies pip (commands)"),
    (5, "pyc_compile (commands)", s05_pyc_compile.COMPILEALL),
    (5, "pyc_compile no-op (task)", "pyc_compile (task)"),
)


def on(arch, name):
    return "%s: %s" % (arch, name)


def _comparisons():
    """The picked comparisons of scenarios 1, 3 and 5 (registered by the imports above), once per arch."""
    found = {(scenario.id, comparison.us, comparison.alternative): comparison
             for scenario in SCENARIOS.values() for comparison in scenario.comparisons}
    missing = [key for key in PICKED if key not in found]
    if missing:
        raise KeyError("scenario 9 compares rows that scenarios 1, 3 and 5 no longer have: %s" % missing)
    return tuple(dataclasses.replace(found[key], us=on(arch, found[key].us), alternative=on(arch, found[key].alternative))
                 for key in PICKED for arch in ARCHES)


def _on_arch(ctx, arch, measure):
    """Samples of measure(ctx on arch), their variants prefixed with the arch."""
    with deps_set.for_arch(arch):
        for sample in measure(ctx.for_arch(arch)):
            sample.variant = on(arch, sample.variant)
            sample.extra["arch"] = arch
            yield sample


@register(9, "Scenarios 1, 3 and 5 on x86_64 and on an emulated aarch64 host", *_comparisons())
def aarch64(ctx):
    for measure in (s01_dependencies.noop, s01_dependencies.clean_uv, s05_pyc_compile.bytecode):
        for arch in ARCHES:
            ctx.log("%s on %s" % (measure.__name__, arch))
            yield from _on_arch(ctx, arch, measure)
