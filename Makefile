# `make demo`: set up .venv (first run only) and reconstruct the bundled sample data.
# `make test`: set up .venv and run the whole test suite (GUI tests need Xvfb or a display).
# `make gui`: napari with the FLAIR-with-lesions sample and the reconstruction widget.
# `make study`: the seed study (results.md, figures, CSVs) in $(STUDY_OUT); `make study STUDY_OUT=docs`
#   regenerates the committed docs/results.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q -c constraints.txt

STUDY_OUT ?= study_out
REAL_SCAN ?= ../shared/data/real_t2_brain_4coil.h5

.PHONY: demo test gui study sample-data clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev,gui,study]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/mrirecon demo --out demo_out

# GUI tests run in their own process: Qt and the batch tests' process pools crashed the
# interpreter at exit when they shared one (all tests passed, the exit code did not).
test: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m "not gui"
	$(BIN)/python -m pytest -q -m gui

study: $(VENV)/.installed
	$(BIN)/mrirecon study $(STUDY_OUT) $(if $(wildcard $(REAL_SCAN)),--real-scan $(REAL_SCAN))

gui: $(VENV)/.installed
	$(BIN)/mrirecon view sample_data/flair_lesions_256_8coil.h5

sample-data: $(VENV)/.installed
	PATH=$(CURDIR)/$(BIN):$$PATH sample_data/make.sh

clean:
	rm -rf $(VENV) demo_out study_out *.egg-info
