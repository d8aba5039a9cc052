# The two commands of the README. Both set up .venv first (idempotent).
PY := .venv/bin/python
# Python writes bytecode on first import in every command below, even where the environment
# says not to (PYTHONDONTWRITEBYTECODE=1 on these hosts): the set-up then skips compiling the
# dependencies at install (scripts/setup.sh), and the test suite's ~80 processes and a run's
# workers read what the first one compiled instead of each compiling its imports again.
export PYTHONDONTWRITEBYTECODE =

.PHONY: setup setup-dev run test bench clean

setup:
	@scripts/setup.sh

setup-dev:
	@scripts/setup.sh dev

# Main job: the embedded-model experiment, analysed and rendered (offline, CPU).
run: setup
	.venv/bin/emostat run --out out

test: setup-dev
	$(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

bench: setup-dev
	$(PY) benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache
