# The two commands of the README. Both set up .venv first (idempotent).
PY := .venv/bin/python

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
