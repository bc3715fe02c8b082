#!/bin/sh
# Runs test binaries under valgrind's memcheck: by default the JIT tests (native code against
# the interpreter: examples, losses, random programs, bad indices, batched entries), the replay
# of every fuzz corpus and crash (tests/fuzz_replay.rs) and the never-panic pipeline test.
# Generated code must make no invalid read or write and leak nothing; the kernels are 128-bit
# SIMD and the JIT is built without AVX-512, which valgrind cannot run. Prints each binary's
# ERROR SUMMARY line; exits 1 if any binary had an error (or failed a test).
#
#   scripts/valgrind.sh [TEST…]      e.g. scripts/valgrind.sh fuzz_replay
#   EBMC_VALGRIND_PROFILE=dev scripts/valgrind.sh …   (the debug build, when it is already built)
set -eu
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
tests=${*:-jit fuzz_replay never_panics_pipeline}
status=0
for t in $tests; do
  if [ ! -f "tests/$t.rs" ]; then
    echo "$t: no tests/$t.rs, skipped"
    continue
  fi
  bin=$(cargo test --profile "${EBMC_VALGRIND_PROFILE:-release}" --test "$t" --no-run --message-format=json 2>/dev/null \
    | grep "\"name\":\"$t\",\"src_path\"" | grep '"kind":\["test"\]' \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  log="${TMPDIR:-/tmp}/ebmc-valgrind-$t.log"
  if valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite "$bin" --test-threads=1 >"$log" 2>&1; then
    :
  else
    status=1
    grep -E "^test .*FAILED|panicked" "$log" || true
  fi
  echo "$t: $(grep "ERROR SUMMARY" "$log" | tail -n 1)"
done
exit $status
