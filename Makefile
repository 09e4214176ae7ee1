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
	$(PY) -m pytest tests/unit tests/test_*.py $(PYTEST_ARGS)

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
	-$(PY) -m pytest -m faults tests/integration/faults tests/integration/security $(PYTEST_ARGS)
	$(PY) docs/build.py --reliability-run tests/output/reliability.json

test: testbed
	$(PY) -m pytest tests -n $(TEST_JOBS) --dist load --maxschedchunk 1 $(PYTEST_ARGS)
	bash tests/sanity/run.sh
	bash tests/compat/run.sh
	$(VENV)/bin/ansible-lint --nocolor

bench: testbed
	$(PY) -m bench.run

clean:
	rm -rf .build tests/output
