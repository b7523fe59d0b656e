# The two commands of the README: `make demo` and `make test`. Everything else is their set-up.
.PHONY: setup demo test lint clean

VENV := .venv/bin

setup:
	bash scripts/setup-system.sh
	bash scripts/setup-venv.sh
	$(VENV)/python testbed/scar_testbed/localstack_ctl.py setup

# Validates the example FDL files, then runs examples/pipeline in local mode (scripts/demo.py).
demo: setup
	$(VENV)/python scripts/demo.py

lint: setup
	$(VENV)/ruff check .

test: lint
	$(VENV)/pytest

clean:
	rm -rf .venv .pytest_cache
