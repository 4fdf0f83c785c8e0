# make demo / make test do the whole set-up on a fresh clone, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DIETGEN := $(VENV)/bin/dietgen
PIO := $(abspath $(VENV))/bin/pio
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
# board, the same C cross-compiled and run on an emulated Raspberry Pi 4, then the point of it all: a phrase
# played by the generated C on the host and on an emulated Nano 33 BLE, written as WAVs with a spectrogram
# beside PyTorch's, and the PlatformIO project a Raspberry Pi runs. One model throughout (the DDSP example); the
# last verify step says why it switches.
DEMO_NOTES := 60:100:0:0.4,64:100:0.45:0.4,67:110:0.9:0.4,72:120:1.35:0.8
demo: setup
	@echo "== 1/9 the DDSP example: its layers, parameters and MACs"
	$(DIETGEN) inspect examples/ddsp
	@echo "== 2/9 its streamed C library (one 10 ms frame per step) and a host build of it"
	$(DIETGEN) export examples/ddsp -o build/ddsp --force
	$(MAKE) -C build/ddsp
	@echo "== 3/9 the C against onnxruntime, under the address and undefined-behaviour sanitizers"
	$(DIETGEN) verify examples/ddsp --sanitize
	@echo "== 4/9 flash, RAM and time per step on every board"
	$(DIETGEN) check examples/ddsp --all-boards
	@echo "== 5/9 the same C cross-compiled and run on an emulated Raspberry Pi 4"
	$(DIETGEN) verify examples/ddsp --board rpi4
	@echo "== 6/9 the demo model (not DDSP: an untrained mixed-layer network made to exercise every kernel family) on an emulated Nano 33 BLE"
	$(DIETGEN) verify examples/demo --board nano33ble
	@echo "== 7/9 back to DDSP: a phrase played by its generated C on this host, beside PyTorch's rendering"
	mkdir -p build
	$(DIETGEN) generate examples/ddsp --notes "$(DEMO_NOTES)" -o build/ddsp-host.wav --compare
	@echo "== 8/9 the same phrase on an emulated Arduino Nano 33 BLE (Cortex-M4F, 64 MHz)"
	$(DIETGEN) generate examples/ddsp --notes "$(DEMO_NOTES)" -o build/ddsp-nano33ble.wav --board nano33ble --compare
	@echo "== 9/9 the board program: a PlatformIO project for a Raspberry Pi 4, built offline from its own folder, its built-in phrase played under qemu-user"
	$(DIETGEN) export examples/ddsp --board rpi4 -o build/ddsp-rpi4 --force
	cd build/ddsp-rpi4 && PLATFORMIO_CORE_DIR=offline/core $(PIO) run -e offline -s
	qemu-aarch64 -cpu cortex-a72 build/ddsp-rpi4/.pio/build/offline/firmware.elf -o build/ddsp-rpi4-phrase.wav
	@echo "== listen: build/ddsp-host.wav, build/ddsp-nano33ble.wav, build/ddsp-rpi4-phrase.wav; look: build/ddsp-host.png, build/ddsp-nano33ble.png"

clean:
	rm -rf build $(VENV)
