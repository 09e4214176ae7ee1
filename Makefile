# appenv.python — the two commands: `make example` and `make test`.
# Both bootstrap what they need: Debian packages (Docker, debootstrap, qemu, compilers),
# the controller virtualenv (.venv) and the cached test bed (base images, CPython archives).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# make test runs the suite on this many pytest-xdist workers, handed one test at a time, longest first
# (tests/conftest.py), so no worker idles while another has a queue (its tests are independent: own containers,
# ports and temporary directories); TEST_JOBS=0 runs it in one process.
TEST_JOBS ?= 2
# The unit tests (no Docker, no test bed): `make unit`, and the first step of `make test`.
UNIT_TESTS := tests/unit $(wildcard tests/test_*.py)
# make test times each step (tests/timing.py: stdlib only, so it runs before the virtualenv exists) and prints at
# the end where the time went: per step, per test area and the slowest tests (tests/output/timing.json).
TIMED := $(PYTHON) -m tests.timing run
TIMING_REPORT := $(PYTHON) -m tests.timing report
# On a failed step: the timing so far, then stop.
OR_REPORT := || { $(TIMING_REPORT); exit 1; }

.PHONY: help bootstrap system venv testbed example test unit integration sanity lint docs compat reliability bench clean

help:
	@echo "make example   provision the sample app end to end on a local Debian container (offline)"
	@echo "make test      run the whole test suite (unit, integration x86_64 + aarch64, sanity, lint)"
	@echo "make bench     compare against the alternatives (see docs/performance.md)"
	@echo "make reliability  run the fault suite and regenerate docs/reliability.md from it"

system:
	@bash tests/testbed/system-packages.sh

# Built once per requirements-dev.txt in the test bed's cache; .venv links to it (tests/testbed/controller-venv.sh).
venv:
	@bash tests/testbed/controller-venv.sh $(PYTHON)

bootstrap: system venv

testbed: bootstrap
	$(PY) -m tests.testbed prepare --arm64 --trixie

example: bootstrap
	$(PY) -m examples.run

unit: venv
	$(PY) -m pytest $(UNIT_TESTS) $(PYTEST_ARGS)

integration: testbed
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

sanity: venv
	bash tests/sanity/run.sh

lint: venv
	$(VENV)/bin/ansible-lint

docs: venv
	$(PY) docs/build.py
	$(PY) docs/build.py --site

# The controller-side tests on the oldest ansible-core meta/runtime.yml declares and on the newest release, each
# in a virtualenv of its own cached in the test bed's cache (tests/compat/run.sh).
compat: venv
	bash tests/compat/run.sh

# The fault suite, then docs/reliability.md from its record (a failed scenario is published as failed).
reliability: testbed
	-$(PY) -m pytest -m faults tests/integration/faults $(PYTEST_ARGS)
	$(PY) docs/build.py --reliability-run tests/output/reliability.json

# Unit tests first (seconds: a broken unit fails the run before the test bed is built), then the test bed, then the
# rest of the suite with sanity, lint and the oldest/newest ansible-core (compat) beside it (the workers leave a core mostly idle while they wait on
# containers; sanity's and lint's output is printed when they end); each step timed, the summary printed at the end
# (also after a failure).
test:
	@$(PYTHON) -m tests.timing reset
	@$(TIMED) system -- bash tests/testbed/system-packages.sh $(OR_REPORT)
	@$(TIMED) venv -- bash tests/testbed/controller-venv.sh $(PYTHON) $(OR_REPORT)
	@$(TIMED) unit -- $(PY) -m pytest $(UNIT_TESTS) -x -n $(TEST_JOBS) -q $(OR_REPORT)
	@$(TIMED) "test bed" -- $(PY) -m tests.testbed prepare --arm64 --trixie $(OR_REPORT)
	@$(TIMED) --beside "sanity:bash tests/sanity/run.sh" --beside "lint:$(VENV)/bin/ansible-lint --nocolor" \
		--beside "compat:bash tests/compat/run.sh" \
		integration -- $(PY) -m pytest tests $(addprefix --ignore=,$(UNIT_TESTS)) -n $(TEST_JOBS) --dist load \
		--maxschedchunk 1 $(PYTEST_ARGS) $(OR_REPORT)
	@$(TIMING_REPORT)

bench: testbed
	$(PY) -m bench.run

clean:
	rm -rf .build tests/output
