#!/usr/bin/env bash
# End-to-end benchmark of issue 5: `stytch-migrate run --until transform` (extract + transform) on
# a 1M-user JSONL export against DuckDB doing the same transform straight from the JSONL
# (bench/duckdb), alternating the two RUNS times on the same machine, then printing each one's
# wall-time median and peak RSS. Needs GNU time (/usr/bin/time); DuckDB needs node and npm
# (installed once into bench/duckdb/node_modules; skipped with a message when node is missing).
#
#   bench/e2e.sh [USERS.jsonl] [RUNS]
#
# Both start every run with the export in the same state, set by CACHE: warm (the default: the
# file is read once just before, so it is in the page cache) or cold (the page cache is dropped
# just before; needs root). stytch-migrate drops the export from the page cache as it reads it
# (internal/readonce), so without this DuckDB would always start cold after it.
#
# Without USERS.jsonl it uses (and generates, the first time, through the extract benchmark) the
# 1M-user file of BenchmarkFileSources under the OS temp folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=${TMPDIR:-/tmp}
src=${1:-}
src=${src:-$tmp/stytch-migrate-bench/users-1000000-v2.jsonl}
runs=${2:-3}
cache=${CACHE:-warm}
case "$cache" in
warm) ;;
cold)
	if [ ! -w /proc/sys/vm/drop_caches ]; then
		echo "CACHE=cold drops the page cache before every run: run as root" >&2
		exit 2
	fi
	;;
*)
	echo "CACHE must be warm or cold, not $cache" >&2
	exit 2
	;;
esac

if [ ! -f "$src" ]; then
	echo "generating $src (once)..."
	(cd "$root" && go test -run '^$' -bench '^BenchmarkFileSources/jsonl$' -benchtime 1x ./stages/extract >/dev/null)
fi
(cd "$root" && make -s build)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/migrate.yaml" <<YAML
source:
  type: jsonl
  path: $src
organizations:
  strategy: metadata
  metadata_field: trusted_metadata.org_ids
YAML

duck=""
if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d "$root/bench/duckdb/node_modules/@duckdb/node-api" ]; then
		(cd "$root/bench/duckdb" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
	fi
	duck="$root/bench/duckdb"
else
	echo "node/npm not found: DuckDB reference skipped"
fi

# prepare puts the export in the page cache state CACHE asks for.
prepare() {
	if [ "$cache" = cold ]; then
		sync
		echo 1 >/proc/sys/vm/drop_caches
	else
		cat "$src" >/dev/null
	fi
}

# measure NAME CMD...: runs CMD under GNU time, appending "seconds peak-KB" to $work/NAME.
measure() {
	local name=$1
	shift
	prepare
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
	cat "$work/time" >>"$work/$name"
	echo "$name: $(cut -d' ' -f1 "$work/time") s, peak $(($(cut -d' ' -f2 "$work/time") / 1024)) MiB"
}

for i in $(seq "$runs"); do
	rm -rf "$work/run"
	measure stytch-migrate "$root/bin/stytch-migrate" run --config "$work/migrate.yaml" --run-dir "$work/run" --until transform
	if [ -n "$duck" ]; then
		(cd "$work" && measure duckdb node "$duck/run.mjs" "$src")
	fi
done

echo "medians of $runs runs, export $cache in the page cache (wall s, peak MiB):"
for name in stytch-migrate duckdb; do
	[ -f "$work/$name" ] || continue
	sort -n "$work/$name" | awk -v n="$name" '{t[NR]=$1; if ($2>m) m=$2} END {printf "  %-15s %.2f s  %d MiB\n", n, t[int((NR+1)/2)], m/1024}'
done
