#!/usr/bin/env bash
# Run every peer dedup runner on one benchmark corpus, one after the other, then score each.
#
#   bash benchmarks/peers/run_peers.sh CORPUS_DIR RESULTS_DIR [extra runner args, e.g. --bands 14 --rows 8]
#
# CORPUS_DIR comes from benchmarks/dedup_corpus.py; RESULTS_DIR gets NAME.json (timings, memory,
# and "scores" merged in by score_removed.py), NAME.removed.txt and NAME.log per run.
# PEER_PYTHON (default /work/benchenv/bin/python) is the separate peer environment
# (benchmarks/requirements-peers.txt). PEERS selects runs (default: all, in the order below).
set -euo pipefail

corpus=${1:?usage: run_peers.sh CORPUS_DIR RESULTS_DIR [runner args]}
results=${2:?usage: run_peers.sh CORPUS_DIR RESULTS_DIR [runner args]}
shift 2
py=${PEER_PYTHON:-/work/benchenv/bin/python}
here=$(cd "$(dirname "$0")" && pwd)
peers=${PEERS:-"datasketch datasketch_16x8 datatrove_default datatrove_whitespace datatrove_curate rensa rensa_verify"}
mkdir -p "$results"

run() {
    local name=$1
    shift
    echo "== $name: $*" >&2
    "$py" "$@" --input "$corpus" --result "$results/$name.json" >"$results/$name.log" 2>&1 \
        || { echo "!! $name failed, see $results/$name.log" >&2; return 0; }
    "$py" "$here/score_removed.py" --removed "$results/$name.removed.txt" --truth "$corpus" \
        --update-result "$results/$name.json" >/dev/null
    "$py" - "$results/$name.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["scores"]["cluster_aware"]
print(f'{r["tool"]:32s} {r["seconds_total"]:8.1f} s  {r["mb_per_s"]:6.3f} MB/s  '
      f'{r["cpu_seconds_total"]:8.1f} cpu-s  {r["peak_rss_mb"]:7.1f} MiB  removed {r["removed"]:6d}  '
      f'P {s["precision"]}  R {s["recall"]}  load {r["loadavg_1min"]}')
EOF
}

# datasketch's own run uses its own bands/rows rule for the threshold: drop --bands/--rows for it.
own_rule=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --bands|--rows) i=$((i + 1)) ;;
        *) own_rule+=("${args[i]}") ;;
    esac
done

for peer in $peers; do
    case $peer in
        datasketch) run "$peer" "$here/datasketch_plain.py" "${own_rule[@]}" ;;
        datasketch_16x8) run "$peer" "$here/datasketch_plain.py" --bands 16 --rows 8 "$@" ;;
        datatrove_default) run "$peer" "$here/datatrove_minhash.py" --tokenizer default "$@" ;;
        datatrove_whitespace) run "$peer" "$here/datatrove_minhash.py" --tokenizer whitespace "$@" ;;
        datatrove_curate) run "$peer" "$here/datatrove_minhash.py" --tokenizer curate "$@" ;;
        rensa) run "$peer" "$here/rensa_minhash.py" "$@" ;;
        rensa_verify) run "$peer" "$here/rensa_minhash.py" --verify "$@" ;;
        *) echo "unknown peer $peer" >&2; exit 2 ;;
    esac
done
