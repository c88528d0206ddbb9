# tests/fuzz/: libFuzzer targets for the checkpoint and config parsers.
#
# `make fuzz` builds each target with clang -fsanitize=fuzzer,address,undefined
# straight from the sources it needs (not from the gcc-built library) into
# build-fuzz/, then runs each for FUZZ_SECONDS (default 600), one after the
# other, starting from a seed corpus copied from the test fixtures; new inputs
# go to build-fuzz/corpus-NAME/, crashes to build-fuzz/crash-NAME-*.
# `make fuzz-build` only builds; `make fuzz-NAME` runs one target; `make
# fuzz-clean` removes build-fuzz/ (`make clean` does too).
# Needs clang and its libFuzzer runtime, which the fuzz-deps step installs
# (Debian: clang and libclang-rt-14-dev) only for these targets.
FUZZ_SECONDS ?= 600
FUZZ_CC ?= clang
FUZZ_DIR := build-fuzz
FUZZ_NAMES := safetensors hfconfig gguf
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -D_GNU_SOURCE $(shell pkg-config --cflags jansson)
FUZZ_LIBS = $(shell pkg-config --libs jansson) -lm
FUZZ_COMMON := util/error.c util/text.c

# Sources and seed folders of each target.
FUZZ_SRCS_safetensors := tests/fuzz/fuzz_safetensors.c models/safetensors.c operators/lowp.c \
	operators/gemm.c
FUZZ_SRCS_hfconfig := tests/fuzz/fuzz_hfconfig.c models/hfconfig.c
FUZZ_SEEDS_safetensors := tests/fixtures/safetensors
FUZZ_SEEDS_hfconfig := tests/fixtures/config
FUZZ_SRCS_gguf := tests/fuzz/fuzz_gguf.c models/gguf.c
FUZZ_SEEDS_gguf := tests/fixtures/gguf

# The archive targets (fetch/unpack.c and the result-archive manifest parser,
# db/archive_manifest.c) are not under models/, so they get their own rule; they
# also link the system's libarchive and nettle (not instrumented).
FUZZ_NAMES += unpack archive_manifest
FUZZ_SRCS_unpack := tests/fuzz/fuzz_unpack.c fetch/unpack.c db/archive_manifest.c
FUZZ_SRCS_archive_manifest := tests/fuzz/fuzz_archive_manifest.c db/archive_manifest.c fetch/unpack.c
FUZZ_SEEDS_unpack := tests/fixtures/archives
FUZZ_SEEDS_archive_manifest := tests/fixtures/archive-manifest
# The model manifest parser (fetch/manifest.c): jansson only.
FUZZ_NAMES += model_manifest
FUZZ_SRCS_model_manifest := tests/fuzz/fuzz_model_manifest.c fetch/manifest.c
FUZZ_SEEDS_model_manifest := tests/fixtures/model-manifest
$(FUZZ_DIR)/fuzz_model_manifest: tests/fuzz/fuzz_model_manifest.c fetch/manifest.c \
		fetch/manifest.h $(FUZZ_COMMON) | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SRCS_model_manifest) $(FUZZ_COMMON) $(FUZZ_LIBS) -o $@

FUZZ_ARC_CFLAGS = $(shell pkg-config --cflags libarchive nettle)
FUZZ_ARC_LIBS = $(shell pkg-config --libs libarchive nettle)

.PHONY: fuzz-deps-archive
fuzz-deps-archive: fuzz-deps
	@scripts/deps.sh libarchive-dev nettle-dev

$(FUZZ_DIR)/fuzz_unpack $(FUZZ_DIR)/fuzz_archive_manifest: $(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c \
		fetch/unpack.c fetch/unpack.h db/archive_manifest.c db/archive.h $(FUZZ_COMMON) | fuzz-deps-archive
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_ARC_CFLAGS) $(FUZZ_SRCS_$*) $(FUZZ_COMMON) $(FUZZ_LIBS) \
		$(FUZZ_ARC_LIBS) -o $@

.PHONY: fuzz-deps
fuzz-deps:
	@scripts/deps.sh clang libclang-rt-14-dev libjansson-dev pkg-config

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c models/%.c models/%.h $(FUZZ_COMMON) | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SRCS_$*) $(FUZZ_COMMON) $(FUZZ_LIBS) -o $@

.PHONY: fuzz fuzz-build $(FUZZ_NAMES:%=fuzz-%)
fuzz-build: $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
fuzz: $(FUZZ_NAMES:%=fuzz-%)

$(FUZZ_NAMES:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus-$*
	cp -n $(FUZZ_SEEDS_$*)/* $(FUZZ_DIR)/corpus-$*/ 2>/dev/null || true
	$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -dict=tests/fuzz/$*.dict \
		-artifact_prefix=$(FUZZ_DIR)/crash-$*- $(FUZZ_DIR)/corpus-$*

.PHONY: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_DIR)
