# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates the Python 3.13 virtual environment (the Lambda runtime) on first use.
VENV := .venv
STAMP := $(VENV)/.installed
# checkov pins an older boto3 than ours: it gets a virtual environment of its own.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
# Lambda's Python runtime for the benchmarks: boto3 and botocore alone (benchmarks/first_create.py).
RUNTIME_VENV := .venv-runtime
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed
# A user's machine has python3.13 on PATH; this workplace has it through pyenv.
PYTHON313 := $(shell if python3.13 -c '' 2>/dev/null; then echo python3.13; else echo 'env PYENV_VERSION=3.13.0 python3'; fi)
# sam build looks for `python3.13` on PATH: the venv's own interpreter answers to that name.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv demo test build lint clean emulator bench

venv: $(STAMP)

$(STAMP): requirements-dev.txt layers/ses_provider/requirements.txt
	$(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(SCAN_STAMP): requirements-scan.txt
	$(PYTHON313) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $(SCAN_STAMP)

$(RUNTIME_STAMP): requirements-dev.txt
	$(PYTHON313) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $$(grep -E '^(boto3|botocore)==' requirements-dev.txt)
	touch $(RUNTIME_STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m demo

# The endpoints `sam local invoke --env-vars events/local-env.json` uses (tools/emulator.py).
emulator: $(STAMP)
	$(VENV)/bin/python -m tools.emulator

# Writes benchmarks/results.md (about 70 minutes): 21 samples, 7 of the runs that take a minute
# or more each (TagSync at N = 10,000, tags only and reconciling, about 1.5 and 3.5 minutes a
# sample; their throttled rows; the 200 Creates at once).
SAMPLES ?= 21
LARGE_SAMPLES ?= 7
bench: $(STAMP) $(RUNTIME_STAMP)
	$(VENV)/bin/python -m benchmarks --samples $(SAMPLES) --large-samples $(LARGE_SAMPLES)

test: $(STAMP) $(SCAN_STAMP)
	$(VENV)/bin/python -m pytest

build: $(STAMP)
	sam build

lint: $(STAMP)
	cfn-lint template.yaml
	sam validate --lint

clean:
	rm -rf $(VENV) $(SCAN_VENV) $(RUNTIME_VENV) .aws-sam
