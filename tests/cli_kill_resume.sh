#!/usr/bin/env bash
# cli_kill_resume: crash safety of `linksim run`, end to end.
#   1. an uninterrupted run of a multi-point sweep (the reference);
#   2. the same sweep in another folder, killed with SIGKILL once results.json holds a finished
#      point: results.json must still be a valid results file holding the finished points;
#   3. `--resume` in that folder: the final counts of every point must equal the reference, and
#      the points finished before the kill must be kept as they were (not run again).
# Counts are compared on results.csv rows without the wall-time/throughput columns. Only bash,
# coreutils, grep, awk and the linksim binary are needed (python3/jq add a JSON check if present).
#
# usage: cli_kill_resume.sh /path/to/linksim
set -u
BIN=${1:?usage: cli_kill_resume.sh /path/to/linksim}
work=$(mktemp -d "${TMPDIR:-/tmp}/linksim_kill_resume.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Six points of about a third of a second each (16-QAM with exact LLRs), each stopped by max_bits so
# that the counts are reproducible.
cat >"$work/sweep.ini" <<'EOF'
name = kill_resume
[link]
mapper = qam16
demapper = exact
frame_bits = 4000
[sweep]
snr_db = 0:1:5
[stop]
min_bit_errors = 0
max_bits = 2e6
[run]
seed = 11
threads = 2
EOF
n_points=6

# results.csv without the columns that depend on timing.
counts_csv() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_s" || $i == "throughput_mbps") skip[i] = 1 }
           { line = ""; for (i = 1; i <= NF; i++) if (!(i in skip)) line = line (line == "" ? "" : ",") $i; print line }' "$1"
}
finished_points() { grep -c '"index"' "$1" 2>/dev/null || true; }
json_ok() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" || return 1
  elif command -v jq >/dev/null 2>&1; then
    jq -e . "$1" >/dev/null || return 1
  fi
  # Structural checks that need no JSON tool.
  grep -q '"scenario": "kill_resume"' "$1" && grep -q '"points": \[' "$1" && [[ $(tail -c 2 "$1") == "}" ]]
}

# 1. Reference.
"$BIN" run "$work/sweep.ini" --out "$work/ref" -q --no-plot >"$work/ref.log" 2>&1 ||
  fail "reference run failed: $(cat "$work/ref.log")"
[[ $(finished_points "$work/ref/results.json") == "$n_points" ]] || fail "reference run has not $n_points points"

# 2. Kill a run once it has finished a point.
"$BIN" run "$work/sweep.ini" --out "$work/run" -q --no-plot >"$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if [[ -f $work/run/results.json && $(finished_points "$work/run/results.json") -ge 1 ]]; then break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
status=$?
pid=
[[ $status -eq 137 ]] || fail "the run ended before it could be killed (exit $status); make the sweep longer"
json=$work/run/results.json
[[ -f $json ]] || fail "no results.json after the kill"
json_ok "$json" || fail "results.json is not valid after SIGKILL: $(head -c 400 "$json")"
kept=$(finished_points "$json")
[[ $kept -ge 1 && $kept -lt $n_points ]] || fail "killed run kept $kept points, expected 1..$((n_points - 1))"
grep -q '"status": "running"' "$json" || fail "killed run is not marked running"
cp "$work/run/results.csv" "$work/killed.csv"
echo "killed after $kept finished point(s)"

# A different configuration is refused (exit 2) and leaves the unfinished run alone.
"$BIN" run "$work/sweep.ini" --out "$work/run" -q --no-plot --set link.frame_bits=2000 >"$work/refuse.log" 2>&1
status=$?
[[ $status -eq 2 ]] || fail "running a different configuration over an unfinished run gave exit $status"
grep -q -- "link.frame_bits" "$work/refuse.log" || fail "refusal does not name the key: $(cat "$work/refuse.log")"
cmp -s "$work/killed.csv" "$work/run/results.csv" || fail "the refused run changed results.csv"

# 3. Re-run the same command (no --resume needed: an unfinished run of the same configuration is
#    continued), and compare with the reference.
"$BIN" run "$work/sweep.ini" --out "$work/run" -q --no-plot >"$work/resume.log" 2>&1 ||
  fail "resume failed: $(cat "$work/resume.log")"
grep -q "resuming" "$work/resume.log" || fail "the re-run did not say it resumed: $(cat "$work/resume.log")"
grep -q '"status": "complete"' "$json" || fail "resumed run is not complete"
counts_csv "$work/ref/results.csv" >"$work/ref.counts"
counts_csv "$work/run/results.csv" >"$work/run.counts"
if ! cmp -s "$work/ref.counts" "$work/run.counts"; then
  diff "$work/ref.counts" "$work/run.counts" >&2
  fail "resumed counts differ from the uninterrupted run"
fi
# The points finished before the kill are kept byte for byte (wall time included).
while IFS= read -r row; do
  grep -qxF -- "$row" "$work/run/results.csv" || fail "finished point changed by the resume: $row"
done < <(tail -n +2 "$work/killed.csv")
[[ $(($(wc -l <"$work/run/results.csv") - 1)) -eq $n_points ]] || fail "resumed results.csv has not $n_points rows"
echo "PASS: killed with $kept of $n_points points, resumed to counts identical to the uninterrupted run"
