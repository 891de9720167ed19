# The two commands of the README: `make serve` and `make test`. Each sets up what it needs.
.PHONY: serve test lint typecheck pytest setup browser

UV ?= uv
# Some machines set PYTHONDONTWRITEBYTECODE: with no .pyc every `textbridge` process the suite
# starts compiled its imports from source (2.9 s instead of 1.3 s each), and the suite ran 2.5x slower.
unexport PYTHONDONTWRITEBYTECODE

serve: setup
	$(UV) run textbridge serve

test: setup browser lint typecheck pytest

setup:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-groups --quiet --compile-bytecode

browser:
	@./scripts/ensure-chromium

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy

# Three workers (pytest-xdist), each with its own PostgreSQL database and SQLite files: the
# suite waits on servers, subprocesses and browsers as much as it computes, so two cores run
# three at once (10 % faster than two: tests/api, compliance and web, 486 s against 439 s).
# Tests that measure a pace against the wall clock (marker `alone`) run afterwards, alone.
pytest:
	$(UV) run pytest -n 3 -m "not alone" --durations=30
	$(UV) run pytest -m alone
