#!/bin/sh
# fuzz/run.sh SECONDS - build the fuzz targets (clang, libFuzzer, ASan,
# UBSan) in build/fuzz and fuzz for SECONDS in all (default 60): two thirds
# for fuzz_reader, from the seed corpus fuzz/corpus (new inputs go to
# fuzz/corpus-work, not checked in), one third for fuzz_resync (damage to a
# valid recording; inputs in fuzz/corpus-resync-work). Crashes go to
# fuzz/artifacts/ (reproduce: build/fuzz/fuzz/fuzz_reader FILE, or
# fuzz_resync).
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing clang (libFuzzer)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q clang >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q clang >/dev/null; }
fi
# meson and ninja: from PATH, else from the test driver's cached tools venv.
if ! command -v meson >/dev/null 2>&1 || ! command -v ninja >/dev/null 2>&1; then
    tools=${TRACETAP_CACHE:-$HOME/.cache/tracetap}/venvs/tools
    if [ ! -x "$tools/bin/meson" ]; then
        python3 -m venv "$tools" && "$tools/bin/python" -m pip install -q "meson>=1.1" ninja
    fi
    PATH="$tools/bin:$PATH"
fi
if [ ! -f build/fuzz/build.ninja ]; then
    CC=clang meson setup build/fuzz -Dext=false -Dctests=false -Dfuzz=true \
        -Dbuildtype=debugoptimized -Db_lundef=false \
        -Db_sanitize=address,undefined \
        -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined"
fi
ninja -C build/fuzz

mkdir -p fuzz/corpus-work fuzz/corpus-resync-work fuzz/artifacts
par=""
if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
    par="-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS"
fi
reader_secs=$(( secs * 2 / 3 ))
resync_secs=$(( secs - reader_secs ))
# -malloc_limit_mb: the reader may allocate only in proportion to the
# input (at most -max_len bytes), so any big allocation is a bug.
fuzz() {   # TARGET SECONDS MAX_LEN CORPUS...
    target=$1 t=$2 max=$3
    shift 3
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build/fuzz/fuzz/"$target" \
        -max_total_time="$t" -max_len="$max" -malloc_limit_mb=64 \
        -rss_limit_mb=2048 -timeout=10 $par \
        -print_final_stats=1 -artifact_prefix=fuzz/artifacts/ "$@"
}
fuzz fuzz_reader "$reader_secs" 65536 fuzz/corpus-work fuzz/corpus
fuzz fuzz_resync "$resync_secs" 256 fuzz/corpus-resync-work
