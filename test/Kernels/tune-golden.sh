#!/usr/bin/env bash
# granitec tune on a golden model (about 20-40 s), then its tuned build against llama.cpp's golden prompt logits
# with the bound test/e2e/GoldenModelTest.cpp uses for that model (dense-q4_k_m prompt: kF32Rounding = 2e-5, against
# llama.cpp's own logits where the host family quantizes activations, else against deqref).
#   test/Kernels/tune-golden.sh BUILD_DIR GOLDEN_DIR
set -euo pipefail
BUILD=$1
GOLDEN=$2
MODEL=dense-q4_k_m
BOUND=2e-5
GRANITEC="$BUILD/bin/granitec"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The untuned build first: it also puts the default kernels in the cache, so the budget goes to the search.
"$GRANITEC" compile "$GOLDEN/models/$MODEL.gguf" --tuning none -q -o "$work/untuned"
"$GRANITEC" tune "$GOLDEN/models/$MODEL.gguf" --budget 20 -o "$work/tuning.json" --no-e2e -q | tee "$work/tune.log"
# Something must have been searched and kept, or the tuned build below proves nothing.
python3 - "$work/tuning.json" <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
assert entries, "the tuning file has no entries"
assert all(e["family"] and e["cpu"] and e["kernel"] for e in entries), entries
print(f"{len(entries)} tuned kernels, {sum(bool(e['knobs']) for e in entries)} with knobs other than the defaults")
PY

"$GRANITEC" compile "$GOLDEN/models/$MODEL.gguf" --tuning "$work/tuning.json" -o "$work/tuned" 2>"$work/compile.log" ||
  { cat "$work/compile.log"; exit 1; }
grep -E "[1-9][0-9]* tuned by $work/tuning.json" "$work/compile.log" || { cat "$work/compile.log"; echo "no kernel was tuned"; exit 1; }

# The host family's products decide the reference, as in GoldenModelTest (quantized_dot: llama.cpp's numerics).
host=$("$GRANITEC" targets | sed -nE 's/^host: ([^,]+),.*/\1/p')
reference=$MODEL.deqref
"$GRANITEC" targets | awk -v f="$host:" '$1 == f { on = 1 } on && !done && /schedule:/ { print; done = 1 }' | grep -q "quantized_dot=true" &&
  reference=$MODEL
ids=$(python3 -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['prompt_ids'])))" \
  "$GOLDEN/logits/$reference.json")
"$work/tuned" --ids "$ids" --logits "$work/logits.f32"
"$work/untuned" --ids "$ids" --logits "$work/untuned.f32"
compare() {
  python3 - "$1" "$2" "$BOUND" <<'PY'
import array, sys
ours, ref = array.array("f"), array.array("f")
ours.frombytes(open(sys.argv[1], "rb").read()); ref.frombytes(open(sys.argv[2], "rb").read())
assert len(ours) == len(ref) > 0, (len(ours), len(ref))
diff = max(abs(a - b) for a, b in zip(ours, ref))
print(f"{sys.argv[1].split('/')[-1]} against {sys.argv[2].split('/')[-1]}: max |diff| {diff:.3g} (bound {sys.argv[3]})")
sys.exit(0 if diff <= float(sys.argv[3]) else 1)
PY
}
compare "$work/logits.f32" "$GOLDEN/logits/$reference.prompt_logits.f32"
compare "$work/logits.f32" "$work/untuned.f32"
