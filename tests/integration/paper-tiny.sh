#!/usr/bin/env bash
# tests/integration/paper-tiny.sh - bench/paper's tiny preset end to end (run by hand, not by
# `make test`: it tunes two small models for real and takes several minutes).
#
#   tests/integration/paper-tiny.sh [EXTRA bench/paper OPTIONS]      (e.g. --fake, --threads 1)
#
# Builds transtune, runs `bench/paper --preset tiny` in a fresh temporary folder (database,
# state, logs, table and plot all go there, so bench/results/ is not touched), and checks
# that the leave-one-out table has a row for each of the preset's models with a numeric
# S_max, S_tt, transfer search time and full-search total time, and that the plot was
# written.  Exit status 0 when all holds; 1 otherwise (the folder is kept for inspection).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fail() { echo "paper-tiny: FAIL: $*" >&2; exit 1; }
trim() { local s=$1; s=${s#"${s%%[! ]*}"}; printf '%s' "${s%"${s##*[! ]}"}"; }

make -s build/transtune build/transtune-runner
dir=$(mktemp -d "${TMPDIR:-/tmp}/paper-tiny.XXXXXX")
echo "paper-tiny: bench/paper --preset tiny in $dir" >&2
rc=0
bench/paper --preset tiny --dir "$dir" --results "$dir" "$@" >"$dir/table.md" || rc=$?
[ "$rc" -eq 0 ] || fail "bench/paper exited with status $rc (see $dir/table.md and $dir/logs/)"

mds=("$dir"/paper-tiny-*.md) svgs=("$dir"/paper-tiny-*.svg)
md=${mds[0]} svg=${svgs[0]}
[ -s "$md" ] || fail "no table written in $dir"
[ -s "$svg" ] || fail "no plot written in $dir"
grep -q '<polyline' "$svg" || fail "the plot $svg has no search curve"

num='^ *[0-9]+(\.[0-9]+)? *$'
speedup='^ *[0-9]+\.[0-9]+x *$'
for m in tiny tiny_wide; do
    # the model's row in the leave-one-out table (the budget table has rows of the same name)
    # (" *" after the name: its figures were timed side by side, bench/paper step 4)
    row=$(awk -F'|' -v m=" $m " '/^### Transfer from the other models/ { t = 1 }
                                  t && ($2 == m || $2 == m "* ") { print; exit }' "$md")
    [[ $row == "| $m * |"* ]] || fail "$m: its figures were not timed side by side (step 4)"
    [ -n "$row" ] || fail "no row for $m in $md"
    IFS='|' read -r _ _model _trials _untuned _searched smax _ttms stt pct tts match _ratio total \
        _rest <<<"$row"
    smax=$(trim "$smax") stt=$(trim "$stt") pct=$(trim "$pct") tts=$(trim "$tts")
    match=$(trim "$match") total=$(trim "$total")
    [[ $smax =~ $speedup ]] || fail "$m: S_max '$smax' is not a number"
    [[ $stt =~ $speedup ]] || fail "$m: S_tt '$stt' is not a number"
    [[ $tts =~ $num ]] || fail "$m: transfer time '$tts' is not a number"
    [[ $total =~ $num ]] || fail "$m: search total time '$total' is not a number"
    [[ $match =~ ^\ *[0-9]+\.[0-9]+\ \(after\ [0-9]+\.[0-9]+\)\ *$ || $match == *"not matched"* ||
       $match == *"n/a"* ]] ||
        fail "$m: search time to match '$match' is neither a number, 'not matched' nor 'n/a'"
    echo "paper-tiny: $m: S_max $smax, S_tt $stt, $pct of max, transfer $tts s," \
         "search time to match: $match, search total $total s" >&2
done
echo "paper-tiny: ok ($md, $svg)" >&2
