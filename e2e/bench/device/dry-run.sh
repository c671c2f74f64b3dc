#!/usr/bin/env bash
# The device check's CPU dry run: the assembled parts and run.sh alone in a clean temp folder, with a
# clean environment, no project node_modules above it and a `node` on PATH that fails if called (the
# bundle must use its own Node), timed. Run it after assemble.ts, before spending device time:
#
#   bash e2e/bench/device/dry-run.sh [PARTS_DIR]     (default: .gpu-bundle)
#
# Without a GPU, run.sh says "no GPU here" and runs every step with the CPU provider at small sizes.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
parts=$(cd "${1:-$repo/.gpu-bundle}" && pwd -P)
dir=$(mktemp -d /tmp/bij-dry-run-XXXXXX)
for d in /tmp /; do
  [ ! -e "$d/node_modules" ] || { echo "$d/node_modules exists: it would be on the bundle's module path; move it away first"; exit 2; }
done
mkdir -p "$dir/parts" "$dir/bin"
cp "$parts"/parts.sha256 "$parts"/part-* "$dir/parts/"
cp "$repo/e2e/bench/device/run.sh" "$dir/"
printf '#!/bin/sh\necho "dry run: a node from PATH was called ($0 $*): the bundle must use its own" >&2\nexit 99\n' > "$dir/bin/node"
chmod +x "$dir/bin/node"
py=$(python3 -c "import sys; print(sys.executable)")  # the interpreter itself, not a shim
echo "dry run in $dir (parts: $(du -sh "$dir/parts" | cut -f1)), python $py"
cd "$dir"
start=$(date +%s)
rc=0
env -i HOME="$HOME" PATH="$dir/bin:$(dirname "$py"):/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
  BIJ_DEVICE_WORK="$dir/work" PYTHON="$py" bash ./run.sh ./parts || rc=$?
echo "dry run: rc $rc, $(( $(date +%s) - start )) s in all (unpacking included); folder $dir (remove it when done)"
exit $rc
