# `make demo` and `make test` work on a fresh clone: they create .venv and install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser serve screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,web]'
	touch $(STAMP)

# Debian's Chromium and ChromeDriver for the browser test of `talkface serve` (and CJK fonts for its
# screenshot). Installed with apt as root or through sudo; without either the browser test skips.
BROWSER_PACKAGES := chromium chromium-driver fonts-wqy-microhei
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -d /usr/share/fonts/truetype/wqy ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES)) >/dev/null; \
	elif command -v sudo >/dev/null; then \
		(sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES)) >/dev/null; \
	else echo "warning: cannot install $(BROWSER_PACKAGES) (not root, no sudo): the browser test will skip"; fi

demo: $(STAMP)
	$(BIN)/talkface demo -o results/demo.mp4

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# Renew docs/serve.png (the README's picture of the page) from the browser test; tests alone never
# write tracked files.
screenshot: $(STAMP) browser
	TALKFACE_SCREENSHOT=docs/serve.png $(BIN)/python -m pytest -q tests/test_web_e2e.py -k uploaded_portrait

serve: $(STAMP)
	$(BIN)/talkface serve

lint: $(STAMP)
	$(BIN)/ruff check talkface tests benchmarks
	$(BIN)/ruff format --check talkface tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/lipsync_accuracy.py

clean:
	rm -rf $(VENV) results
