# Two commands for a new user: `make gen` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: gen test regress bench sweep lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

gen: $(STAMP)
	$(BIN)/axelram gen -o build/axelram

# Tests run in one process per core (pytest-xdist); a worker takes the next test when it is free.
PARALLEL := -n auto --dist worksteal

# The regression a new user and CI run (under 20 minutes on 2 cores); it lists its 25 slowest
# tests, to keep it there.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PARALLEL) --durations=25

# The full sweep: every d, b and width, both simulators.
regress: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL)

bench: $(STAMP)
	$(BIN)/python bench/golden.py

# The scaling sweep on the ECP5-85K (d 16..128 x b 2..4; hours), checked against the baseline
# kept in the repository (docs/sweep.md).
sweep: $(STAMP)
	$(BIN)/axelram sweep --target ecp5-85k -o build/sweep --check baselines/sweep-ecp5-85k.json

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf build
