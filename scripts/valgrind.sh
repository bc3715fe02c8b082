#!/bin/sh
# Runs the JIT test binary (native code against the interpreter: examples, losses, random
# programs, bad indices, batched entries) under valgrind's memcheck. Generated code must make
# no invalid read or write and leak nothing; the kernels are 128-bit SIMD and the JIT is built
# without AVX-512, which valgrind cannot run. Prints valgrind's ERROR SUMMARY line last.
#
#   scripts/valgrind.sh [test-name-filter]
set -eu
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
bin=$(cargo test --test jit --no-run --message-format=json 2>/dev/null \
  | grep '"name":"jit","src_path"' | grep '"kind":\["test"\]' \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  "$bin" --test-threads=1 "$@" 2>&1 | tee /tmp/ebmc-valgrind.log | grep -E "^test |definitely lost" || true
grep "ERROR SUMMARY" /tmp/ebmc-valgrind.log | tail -n 1
