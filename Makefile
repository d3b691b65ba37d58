# tracetap developer entry points. `make help` lists them.
PYTHON ?= python3
FUZZ_SECONDS ?= 300

.PHONY: help test test-c test-py check-layering demo bench bench-pytest bench-convoy bench-do-nothing fuzz fuzz-smoke pythons clean

help:
	@echo "make test        C tests (plain + ASan/UBSan), then pytest on every matrix interpreter"
	@echo "make test-c      only the C tests"
	@echo "make test-py     only the Python tests (PYTEST_ARGS='-k foo', VERSIONS='3.13.15 3.14.7')"
	@echo "make check-layering  the extension's part graph (scripts/layering.py) on the newest build/py-*"
	@echo "make demo        install tracetap in a venv on the newest interpreter and trace examples/demo.py"
	@echo "make bench       run the benchmark suite (bench/run.py) on the newest interpreter"
	@echo "make bench-pytest  more-itertools' test suite plain, under coverage.py and tracetap (VERSIONS='3.13.15 3.14.7')"
	@echo "make bench-convoy  100 threads on one lock (bench/lock_convoy.py), untraced and traced, 2 busy loops beside"
	@echo "make bench-do-nothing  tracetap built with TT_DO_NOTHING (no event encoding) against the floor"
	@echo "make fuzz        fuzz the reader for FUZZ_SECONDS (default 300) with libFuzzer"
	@echo "make pythons     build/list the interpreter matrix"
	@echo "make clean       remove build/ (cached interpreters and venvs stay in ~/.cache/tracetap)"

test:
	$(PYTHON) scripts/test_matrix.py

test-c:
	$(PYTHON) scripts/test_matrix.py --no-py

test-py:
	$(PYTHON) scripts/test_matrix.py --no-c $(foreach v,$(VERSIONS),--python $(v)) -- $(PYTEST_ARGS)

# The symbol-reference graph of src/ext (docs/DESIGN.md, "The extension's
# parts"), read from the objects of the newest extension build that
# `make test` / `make test-py` left under build/py-<version>.
check-layering:
	@b=$$(ls -d build/py-* 2>/dev/null | sort -V | tail -n 1); \
	if [ -z "$$b" ]; then echo "check-layering: no build/py-* yet (run make test-py)"; exit 2; fi; \
	$(PYTHON) scripts/layering.py "$$b"

demo:
	scripts/demo

bench:
	scripts/bench $(BENCH_ARGS)

# A real test suite (bench/pytest_suite.py): not part of `make test`.
bench-pytest:
	for v in $(or $(VERSIONS),3.13.15 3.14.7); do \
	  BENCH_SCRIPT=bench/pytest_suite.py scripts/bench --python-version $$v $(BENCH_ARGS) || exit 1; \
	done

# Lock contention under tracing (bench/lock_convoy.py): wall clock and
# context switches, with two busy loops as on a loaded CI runner.
bench-convoy:
	BENCH_SCRIPT=bench/lock_convoy.py scripts/bench --python-version $(or $(VERSION),3.14.7) --busy 2 $(BENCH_ARGS)

# What the hooks cost without encoding an event (TT_DO_NOTHING), against
# the floor: the budget left to the encoders. Reinstalls the normal build
# afterwards so that later benchmarks measure it.
bench-do-nothing:
	BENCH_SETUP_ARGS=-Ddo_nothing=true scripts/bench $(BENCH_ARGS) --modes floor,tracetap
	@echo "(the bench venv now holds the TT_DO_NOTHING build; make bench reinstalls the normal one)"

fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

# CI's short fuzz run: libFuzzer's progress goes to a log; its verdict and
# final stats are shown, and the whole log if it found anything.
fuzz-smoke:
	@mkdir -p build
	@if fuzz/run.sh 60 > build/fuzz-smoke.log 2>&1; then \
	  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' build/fuzz-smoke.log; \
	  echo "fuzz smoke: no crash in 60 s (log: build/fuzz-smoke.log)"; \
	else tail -n 80 build/fuzz-smoke.log; echo "fuzz smoke: FAILED (log: build/fuzz-smoke.log)"; exit 1; fi

pythons:
	scripts/pythons

clean:
	rm -rf build
