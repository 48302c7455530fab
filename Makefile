# The two-command quick start: `make demo` and `make test`.
# `make` installs the Debian packages that are missing, configures into build/ and builds with ccache.

# ccache: paths relative to the checkout, so a fresh clone (CI) reuses what another one compiled.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= true

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= 2
CMAKE_ARGS ?=

# Everything the project needs from Debian 12, for building, testing and the demo.
DEB_PACKAGES := cmake make g++ pkg-config ccache git \
	libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev \
	libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libsqlite3-dev libcrypt-dev libsodium-dev \
	libsystemd-dev libgtest-dev libgmock-dev fail2ban sqlite3 procps nftables iproute2 hyperfine \
	clang libclang-rt-14-dev chromium debootstrap systemd-container lintian pandoc man-db groff-base \
	prometheus libmaxminddb-dev libmaxmind-db-writer-perl \
	postgresql libpq-dev

.PHONY: all deps configure build test test-install test-asan fuzz demo bench clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER_LAUNCHER=ccache $(CMAKE_ARGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The .deb installed and run as a Debian administrator does it, under a real systemd: lintian, then
# a Debian 12 container (debootstrap, cached in /var/cache/fleetban-test) booted with systemd-nspawn
# runs deploy/install-check.sh and tests/install/checks.sh (tests/install/run.sh says what).
test-install: build
	tests/install/run.sh $(BUILD)

# The whole suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DFLEETBAN_SANITIZE=ON"

# libFuzzer targets (clang), each run for FUZZ_SECONDS from the seed corpus in tests/fuzz/corpus/.
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DFLEETBAN_FUZZ=ON -DFLEETBAN_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_wire fuzz_config fuzz_ip_prefix fuzz_batch_step
	tests/fuzz/run-fuzzers.sh build-fuzz/bin $(FUZZ_SECONDS)

demo: build
	demo/run-demo.sh $(BUILD)/bin

# The benchmark harness (bench/README.md): P1..P5 with their same-run baselines, 5-10 minutes with
# a million bans; results in bench/results/latest.{json,md}. BENCH_ARGS="--bans 100000" for less.
bench: build
	bench/run.sh --build $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
