# facesynth build.
#   make             library, CPU backend and build/facesynth (+ CUDA objects when nvcc exists)
#   make demo        install missing build packages, build, generate four images into out/
#   make check       install missing test packages, then run every Check suite
#                    (GPU cases report as skipped without a device)
#   make check T=weights   run one suite (tests/test_weights.c); CK_RUN_CASE=... narrows further
#   make deps        install every package the build, tests, fuzzers and valgrind use
#   make check-asan  the same suites built with AddressSanitizer + UBSan
#   make check-valgrind   the same suites under valgrind (CK_FORK=no)
#   make fuzz        build the libFuzzer harnesses with clang and run each FUZZ_SECONDS
#   make install PREFIX=/usr/local DESTDIR=

CC       ?= gcc
NVCC     ?= $(shell command -v nvcc 2>/dev/null)
PREFIX   ?= /usr/local
prefix   ?= $(PREFIX)
BINDIR   ?= $(prefix)/bin
LIBDIR   ?= $(prefix)/lib
INCDIR   ?= $(prefix)/include/facesynth
BUILD    ?= build

OPT      ?= -O3
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread -MMD -MP
LDLIBS   += -lpng -lsvm -ljpeg -lm -pthread
PNG_CFLAGS := $(shell pkg-config --cflags libpng 2>/dev/null)
CFLAGS   += $(PNG_CFLAGS)

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

LIB_SRCS  := $(wildcard engine/*.c) $(wildcard engine/cpu/*.c) $(wildcard weights_tools/*.c)
APP_SRCS  := $(wildcard apps/*.c)
TEST_SRCS := $(wildcard tests/test_*.c)
CU_SRCS   := $(wildcard kernels/*.cu)

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
APP_OBJS  := $(APP_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
LIB       := $(BUILD)/libfacesynth.a

# CUDA: compiled whenever nvcc is present so that every machine (CI has nvcc
# but no GPU) proves the kernels build for Ampere and Hopper.
ifneq ($(NVCC),)
CUDA_HOME   ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCHS  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a
NVCCFLAGS   ?= -O3 -std=c++20 $(CUDA_ARCHS) -Xcompiler -Wall,-fPIC
CU_OBJS     := $(CU_SRCS:%.cu=$(BUILD)/obj/%.o)
CFLAGS      += -DFS_WITH_CUDA=1 -I$(CUDA_HOME)/include
# cuBLAS (the styles op's grouped GEMMs, kernels/styles.cu): the shared
# library, as the toolkit ships no static one everywhere; rpath so binaries
# find it without LD_LIBRARY_PATH.
LDLIBS      += -L$(CUDA_HOME)/lib64 -lcublas -lcudart_static -lstdc++ -ldl -lrt -Wl,-rpath,$(CUDA_HOME)/lib64
# The rules below come before `all`; keep `all` the default goal.
.DEFAULT_GOAL := all
# Header dependencies of the .cu files (kernels/cuda_common.cuh is shared by all).
NVCCFLAGS   += -MMD -MP
-include $(CU_OBJS:.o=.d)

# CUDA modconv layers vs a cuDNN baseline (bench/bench_cuda_layers.c); needs a GPU to run:
#   make bench-cuda && build/bench/bench_cuda_layers [--batch 32] [--tf32]
.PHONY: bench-cuda
bench-cuda: $(BUILD)/bench/bench_cuda_layers
$(BUILD)/bench/bench_cuda_layers: bench/bench_cuda_layers.c tests/backend_op_cases.h kernels/cuda_backend.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcudnn -Wl,-rpath,$(CUDA_HOME)/lib64 -o $@
endif

.PHONY: all demo deps deps-build deps-test check check-run check-install check-asan check-valgrind fuzz install uninstall clean
all: $(BUILD)/facesynth

# Debian packages. A fresh machine gets them from `make demo` / `make check`
# (apt-get as root or through password-less sudo; otherwise one message that
# lists what to install). Only the missing ones are installed, so a machine
# that has them all never calls apt-get. pkg-config is read again by the
# sub-make, after the install, so its flags are never stale.
# Add a dependency by appending its package to the right list.
BUILD_PKGS := build-essential pkg-config libpng-dev libsvm-dev libjpeg62-turbo-dev
TEST_PKGS  := check libsubunit-dev
# dlib's 68-point model, which the landmark tests compare against (never committed)
TEST_PKGS  += libdlib-data
# the dataset tests: Python's tarfile and json as an independent reader of the
# outputs, and a one-node Slurm cluster (tests/slurm/run_slurm_test.sh, as root)
TEST_PKGS  += python3 slurm-wlm munge
DEV_PKGS   := valgrind clang libclang-rt-14-dev
fs_missing = $$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done)
define fs_install
missing="$(call fs_missing,$(1))"; [ -z "$$missing" ] && exit 0; \
if ! command -v dpkg-query >/dev/null; then exit 0; fi; \
if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
else echo "facesynth: missing packages; install them with: sudo apt-get install" $$missing >&2; exit 1; fi; \
export DEBIAN_FRONTEND=noninteractive; $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$missing
endef
deps-build:
	@$(call fs_install,$(BUILD_PKGS))
deps-test: deps-build
	@$(call fs_install,$(TEST_PKGS))
deps: deps-test
	@$(call fs_install,$(DEV_PKGS))

demo: deps-build
	@$(MAKE) --no-print-directory all
	$(BUILD)/facesynth generate --network tests/fixtures/stylegan2/tiny/network-snapshot.pkl \
	    --seeds 0-3 --trunc 0.7 --outdir out

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS) $(CU_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/facesynth: $(APP_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(APP_OBJS) $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# A test binary depends on the library and its own headers only: a change in
# apps/ rebuilds build/facesynth, which the CLI suites run, and relinks nothing here.
$(BUILD)/tests/%: tests/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) $< $(LIB) $(LDFLAGS) $(CHECK_LIBS) $(LDLIBS) -o $@

# Suites run from the repository root (fixture paths are relative to it).
# GPU test cases carry the Check tag "gpu"; without a device they skip themselves.
# T=name runs tests/test_name.c alone.
RUN_BINS := $(if $(T),$(BUILD)/tests/test_$(T),$(TEST_BINS))
check: deps-test
	@$(MAKE) --no-print-directory check-run
	@$(if $(T),,$(MAKE) --no-print-directory check-install)
check-run: $(RUN_BINS) $(BUILD)/facesynth
	@fail=0; for t in $(RUN_BINS); do \
	  echo "== $$t"; FS_CLI=$(BUILD)/facesynth $$t || fail=1; \
	done; test $$fail = 0

check-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" NVCC= check-run

check-valgrind: $(RUN_BINS) $(BUILD)/facesynth
	@fail=0; for t in $(RUN_BINS); do echo "== valgrind $$t"; \
	  FS_CLI=$(BUILD)/facesynth CK_FORK=no valgrind -q --suppressions=tests/valgrind.supp --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect $$t || fail=1; \
	done; test $$fail = 0

# libFuzzer harnesses (clang from Debian). Each runs FUZZ_SECONDS on its corpus.
# The library is compiled once, with the sanitizers and the fuzzer's coverage
# instrumentation, into $(BUILD)/fuzz/libfacesynth-fuzz.a; each harness is one
# small compile linked against it (not a rebuild of every source).
FUZZ_SECONDS  ?= 60
FUZZ_CC       ?= clang
FUZZ_SRCS     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS     := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FLAGS    := -g -O1 -std=c11 -D_DEFAULT_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=undefined -pthread $(PNG_CFLAGS)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_LIB      := $(BUILD)/fuzz/libfacesynth-fuzz.a
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) -lpng -ljpeg -lm -o $@
-include $(FUZZ_LIB_OBJS:.o=.d)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
	      $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$${n#fuzz_} || exit 1; done

# CPU generator benchmark (bench/run_cpu_generator_bench.sh runs it) and the
# CVAE-GAN benchmark, CPU or CUDA (bench/run_cvaegan_bench.sh runs it); the e4e
# encoder's and the FMA peak (bench/run_e4e_bench.sh runs them).
.PHONY: bench
bench: $(BUILD)/bench/bench_generator_cpu $(BUILD)/bench/bench_cvaegan $(BUILD)/bench/bench_e4e $(BUILD)/bench/bench_fma_peak
$(BUILD)/bench/%: bench/%.c bench/bench_util.h bench/random_sg2.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# The library's public interface: engine/facesynth.h and every header it
# includes (found by the compiler, so the list cannot go stale), plus the
# CUDA backend's own options; installed with their directories, so their
# relative includes hold: #include <facesynth/engine/facesynth.h>.
public_headers = $(shell printf '\043include "engine/facesynth.h"\n' | $(CC) -MM -I. $(PNG_CFLAGS) -x c - | \
                   tr ' \\' '\n\n' | grep '\.h$$' | sed 's|[a-z_]*/\.\./||g' | sort -u) kernels/cuda_backend.h

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)
	install -m 755 $(BUILD)/facesynth $(DESTDIR)$(BINDIR)/facesynth
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libfacesynth.a
	for h in $(public_headers); do install -D -m 644 $$h $(DESTDIR)$(INCDIR)/$$h || exit 1; done

# A program built only from the installed headers and library generates the
# same images as the CLI (tests/example_generate.c).
STAGE := $(abspath $(BUILD)/stage)
check-install:
	rm -rf $(STAGE) $(BUILD)/example-out $(BUILD)/example-cli
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr
	$(CC) -std=c11 -Wall -Wextra -I$(STAGE)/usr/include tests/example_generate.c \
	    $(STAGE)/usr/lib/libfacesynth.a $(LDFLAGS) $(LDLIBS) -o $(BUILD)/example_generate
	mkdir -p $(BUILD)/example-out
	$(BUILD)/example_generate tests/fixtures/stylegan2/tiny/network-snapshot.pkl $(BUILD)/example-out cpu 0 1 42
	$(BUILD)/facesynth generate -q --network tests/fixtures/stylegan2/tiny/network-snapshot.pkl \
	    --seeds 0,1,42 --outdir $(BUILD)/example-cli
	cmp $(BUILD)/example-out/seed0000.png $(BUILD)/example-cli/seed0000.png
	cmp $(BUILD)/example-out/seed0001.png $(BUILD)/example-cli/seed0001.png
	cmp $(BUILD)/example-out/seed0042.png $(BUILD)/example-cli/seed0042.png
	@echo "check-install: the installed library generates the CLI's images"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/facesynth $(DESTDIR)$(LIBDIR)/libfacesynth.a
	rm -rf $(DESTDIR)$(INCDIR)

clean:
	rm -rf build build-asan

-include $(LIB_OBJS:.o=.d) $(APP_OBJS:.o=.d) $(TEST_BINS:=.d)
