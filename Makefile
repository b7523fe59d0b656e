# The two commands of the README: `make demo` and `make test`. Everything else is their set-up.
.PHONY: setup demo test lint lock clean

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

# Two workers, one test file each at a time (module fixtures are set up once): tests mostly
# wait on LocalStack and subprocesses, so two pay on two cores. Files are handed out in
# tests/conftest.py's order, the longest first (docs/testbed.md#the-whole-suite).
test: lint
	$(VENV)/pytest -n 2 --dist loadfile --no-loadscope-reorder

# Refreshes requirements/action.txt, the action image's lock with hashes (docs/action.md).
lock: setup
	$(VENV)/pip install --quiet uv==0.13.8
	$(VENV)/uv pip compile --universal --python-version 3.11 --generate-hashes --upgrade \
		--custom-compile-command "make lock" pyproject.toml requirements/action.in \
		-o requirements/action.txt

clean:
	rm -rf .venv .pytest_cache
