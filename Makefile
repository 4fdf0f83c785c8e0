# make demo / make test do the whole set-up on a fresh clone, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DIETGEN := $(VENV)/bin/dietgen
# Debian packages the tests need: host C compilers (gcc and clang, both must accept the generated C, and
# clang's sanitizer runtime), cmake for the generated CMake project, valgrind (instruction counts), the
# cross compilers and emulators of the boards (Cortex-M, AVR, Raspberry Pi) and FluidSynth with a small
# General MIDI SoundFont for the training data.
APT_PACKAGES := gcc clang libclang-rt-14-dev cmake libc6-dev valgrind \
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
  gcc-avr avr-libc binutils-avr simavr libsimavr-dev arduino-core-avr \
  gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user \
  fluidsynth timgm6mb-soundfont
JOBS ?= 2

.PHONY: demo test setup system clean

setup: system $(VENV)/.installed

system:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing. Run as root: apt-get install -y --no-install-recommends $(APT_PACKAGES)"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

test: setup
	$(PY) -m pytest -n $(JOBS) -q

# The main job on a trained example: inspect, C export + host build, verify (sanitizers), the budget on every
# board, and the same C cross-compiled and run on an emulated Raspberry Pi 4 and Arduino Nano 33 BLE.
demo: setup
	$(DIETGEN) inspect examples/ddsp
	$(DIETGEN) export examples/ddsp -o build/ddsp --force
	$(MAKE) -C build/ddsp
	$(DIETGEN) verify examples/ddsp --sanitize
	$(DIETGEN) check examples/ddsp --all-boards
	$(DIETGEN) verify examples/ddsp --board rpi4
	$(DIETGEN) verify examples/demo --board nano33ble

clean:
	rm -rf build $(VENV)
