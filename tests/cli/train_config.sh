#!/usr/bin/env bash
# `atrous train` / `atrous evaluate` end to end on the command line: presets listed; a preset, a config file and
# flags combine as documented (command line > config file > preset > defaults); a short synthetic run writes its
# checkpoint, logs and weights; --resume auto continues it; evaluate reads the weights and writes JSON; bad settings
# fail naming the setting.
set -euo pipefail
atrous="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$atrous" train --list-presets > "$work/presets.txt"
for name in largefov-voc deeplabv3-voc camvid; do
  grep -q "^$name " "$work/presets.txt" || { echo "--list-presets lacks $name"; cat "$work/presets.txt"; exit 1; }
done

expect_setting() {  # expect_setting FILE 'key = value'
  grep -qxF -- "$2" "$1" || { echo "expected '$2' in:"; cat "$1"; exit 1; }
}

# The preset gives crop and model, the config file overrides batch size and lr, the command line overrides the
# config file's lr.
cat > "$work/run.toml" <<'TOML'
# settings for a test run
preset = "camvid"
batch-size = 3
lr = 0.2
flip = false
val-scales = [0.5, 1.0]
TOML
"$atrous" train --config "$work/run.toml" --lr 0.3 --print-settings > "$work/settings.txt"
expect_setting "$work/settings.txt" 'model = "tiny-deeplab"'
expect_setting "$work/settings.txt" 'crop-height = 176'
expect_setting "$work/settings.txt" 'batch-size = 3'
expect_setting "$work/settings.txt" 'lr = 0.3'
expect_setting "$work/settings.txt" 'flip = false'
expect_setting "$work/settings.txt" 'val-scales = [0.5, 1]'
expect_setting "$work/settings.txt" 'class-weighting = "median-frequency"'
# Without the flag the config file's value holds; without the config file the preset's.
"$atrous" train --config "$work/run.toml" --print-settings > "$work/settings2.txt"
expect_setting "$work/settings2.txt" 'lr = 0.2'
"$atrous" train --preset camvid --print-settings > "$work/settings3.txt"
expect_setting "$work/settings3.txt" 'lr = 0.05'
expect_setting "$work/settings3.txt" 'batch-size = 8'
# The printed settings are themselves a config file that reproduces them.
"$atrous" train --config "$work/settings.txt" --print-settings > "$work/settings4.txt"
diff <(grep -v '^#' "$work/settings.txt") <(grep -v '^#' "$work/settings4.txt")

# SGD's momentum style: PyTorch's by default and in the camvid preset, Caffe's in largefov-voc (trained in Caffe);
# the flag overrides the preset.
expect_setting "$work/settings3.txt" 'momentum-style = "pytorch"'
"$atrous" train --preset largefov-voc --data-root /data --print-settings > "$work/largefov.txt"
expect_setting "$work/largefov.txt" 'momentum-style = "caffe"'
"$atrous" train --preset largefov-voc --data-root /data --momentum-style pytorch --print-settings \
  > "$work/largefov2.txt"
expect_setting "$work/largefov2.txt" 'momentum-style = "pytorch"'
printf 'preset = "camvid"\nmomentum-style = "caffe"\n' > "$work/momentum.toml"
"$atrous" train --config "$work/momentum.toml" --print-settings > "$work/momentum.txt"
expect_setting "$work/momentum.txt" 'momentum-style = "caffe"'
grep -q "momentum 0.9 (caffe)" "$work/presets.txt" ||
  { echo "--list-presets lacks the momentum style"; cat "$work/presets.txt"; exit 1; }

# A run cut shorter than the preset's warmup keeps the warmup's share of the recipe (camvid: 50 of 1000 iterations,
# so 2 of 50) and says so; a warmup given explicitly is taken as given and refused when it does not fit.
"$atrous" train --preset camvid --max-iterations 50 --print-settings > "$work/short.txt"
expect_setting "$work/short.txt" 'warmup-iterations = 2'
grep -q "warmup: the preset's 50 of 1000 iterations scaled to 2 of 50" "$work/short.txt" ||
  { echo "no note on the shortened warmup"; cat "$work/short.txt"; exit 1; }
"$atrous" train --preset camvid --max-iterations 500 --print-settings > "$work/short2.txt"
expect_setting "$work/short2.txt" 'warmup-iterations = 50'
if "$atrous" train --preset camvid --max-iterations 50 --warmup-iterations 60 --print-settings > "$work/short3.txt" 2>&1
then
  echo "a warmup longer than the run was accepted"; exit 1
fi
grep -q "warmup_iterations" "$work/short3.txt" || { echo "the error does not name the warmup"; cat "$work/short3.txt"; exit 1; }

# The device: a setting like the others (key `device`, command line first). Printing checks only the spelling, so a
# GPU run's settings print anywhere.
expect_setting "$work/settings3.txt" 'device = "cpu"'
printf 'preset = "camvid"\ndevice = "cuda:1"\n' > "$work/device.toml"
"$atrous" train --config "$work/device.toml" --print-settings > "$work/device.txt"
expect_setting "$work/device.txt" 'device = "cuda:1"'
"$atrous" train --config "$work/device.toml" --device cpu --print-settings > "$work/device2.txt"
expect_setting "$work/device2.txt" 'device = "cpu"'

# A short synthetic run, interrupted by its iteration budget, then continued.
run="$work/run"
data=(--dataset synthetic --synthetic-size 32 --synthetic-count 16 --crop-size 32 --batch-size 2 --val-limit 4 --lr 0.02)
common=("${data[@]}" --log-every 2 --validate-every 3 --out-dir "$run")
"$atrous" train "${common[@]}" --max-iterations 4 > "$work/train.log" 2> "$work/train.err"
for f in checkpoint.safetensors weights.safetensors train_log.csv train_log.jsonl settings.toml validation.json; do
  test -s "$run/$f" || { echo "train did not write $f"; ls "$run"; exit 1; }
done
grep -q "iteration 4/4" "$work/train.err" || { echo "no plain progress line on a non-terminal stderr"; cat "$work/train.err"; exit 1; }
"$atrous" train "${common[@]}" --max-iterations 6 --resume auto > "$work/resume.log" 2>&1
grep -q "resumed from $run/checkpoint.safetensors at iteration 4" "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
test "$(tail -n 1 "$run/train_log.csv" | cut -d, -f1)" = 6 || { echo "log does not end at 6"; cat "$run/train_log.csv"; exit 1; }
# The checkpoint's momentum buffers are PyTorch-style: resuming with Caffe's momentum is refused, naming both.
if "$atrous" train "${common[@]}" --max-iterations 8 --resume auto --momentum-style caffe > "$work/style.log" 2>&1
then
  echo "resuming across momentum styles should fail"; exit 1
fi
grep -q "momentum style 'pytorch', the optimizer uses 'caffe'" "$work/style.log" || { cat "$work/style.log"; exit 1; }

# Ctrl-C: the step finishes, a checkpoint is written, the exit status is 130. (A background job of a script ignores
# SIGINT until the trainer installs its handler, so the signal is sent once training is under way.)
"$atrous" train "${data[@]}" --out-dir "$work/sigint" --max-iterations 100000 --log-every 1 > "$work/sigint.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ "$(cat "$work/sigint/train_log.csv" 2> /dev/null | wc -l)" -ge 3 ] && break
  sleep 0.1
done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
test "$status" = 130 || { echo "Ctrl-C: exit status $status, expected 130"; cat "$work/sigint.log"; exit 1; }
grep -q "checkpoint at iteration .* (Ctrl-C)" "$work/sigint.log" || { cat "$work/sigint.log"; exit 1; }
test -s "$work/sigint/checkpoint.safetensors" && test ! -e "$work/sigint/weights.safetensors"

"$atrous" evaluate --model tiny-deeplab --weights "$run/weights.safetensors" --dataset synthetic --synthetic-size 32 \
  --split val --limit 4 --json "$work/eval.json" > "$work/eval.log"
grep -q "mIoU" "$work/eval.log" && test -s "$work/eval.json"
"$atrous" evaluate --model tiny-deeplab --checkpoint "$run/checkpoint.safetensors" --dataset synthetic \
  --synthetic-size 32 --split val --limit 2 --scales 0.75 1 --flip --save-masks "$work/masks" --json "" > /dev/null
ls "$work/masks" | grep -q png || { echo "no masks written"; exit 1; }
"$atrous" evaluate --model tiny-deeplab --weights "$run/weights.safetensors" --dataset synthetic --synthetic-size 32 \
  --split val --limit 2 --crf --json "$work/crf.json" > "$work/crf.log"
grep -q "dense CRF: w1=" "$work/crf.log" && test -s "$work/crf.json" || { cat "$work/crf.log"; exit 1; }

expect_failure() {  # expect_failure TEXT command...
  local text="$1"; shift
  if "$@" > "$work/out.log" 2>&1; then echo "expected failure: $*"; exit 1; fi
  grep -q -- "$text" "$work/out.log" || { echo "error message lacks '$text':"; cat "$work/out.log"; exit 1; }
}
expect_failure "without --crf" "$atrous" evaluate --model tiny-deeplab --weights "$run/weights.safetensors" \
  --dataset synthetic --bilateral-weight 5
expect_failure "unknown training preset 'nope'" "$atrous" train --preset nope --print-settings
expect_failure "setting lr-policy = 'cosine'" "$atrous" train --lr-policy cosine --print-settings
expect_failure "setting momentum-style = 'tf' is not one of: pytorch, caffe" "$atrous" train --momentum-style tf \
  --print-settings
expect_failure "nesterov = true needs momentum-style = 'pytorch'" "$atrous" train --preset largefov-voc --nesterov \
  --data-root /data --print-settings
expect_failure "data-root" "$atrous" train --dataset voc --print-settings
expect_failure "unknown model" "$atrous" train "${common[@]}" --model nope --max-iterations 1
expect_failure "nothing" "$atrous" train --dataset camvid --data-root "$work/nothing" --max-iterations 1 --out-dir "$work/x"

# --init-weights without --model (and without a preset) trains the model the file records, at its output stride, and
# says so; --model or a preset's model wins; a file that records no model is an error asking for --model.
lite="$work/lite/weights.safetensors"
"$atrous" train "${data[@]}" --model deeplabv3plus-mobilenetv2-lite --output-stride 8 --max-iterations 1 \
  --val-scales 0.75 --val-flip --out-dir "$work/lite" > "$work/lite.log" 2>&1 || { cat "$work/lite.log"; exit 1; }
"$atrous" train "${data[@]}" --init-weights "$lite" --print-settings > "$work/adopted.txt"
expect_setting "$work/adopted.txt" 'model = "deeplabv3plus-mobilenetv2-lite"'
expect_setting "$work/adopted.txt" 'output-stride = 8'
grep -q "model as recorded in $lite" "$work/adopted.txt" || { cat "$work/adopted.txt"; exit 1; }
"$atrous" train "${data[@]}" --init-weights "$lite" --output-stride 16 --print-settings > "$work/adopted16.txt"
expect_setting "$work/adopted16.txt" 'output-stride = 16'
"$atrous" train "${data[@]}" --init-weights "$lite" --max-iterations 1 --out-dir "$work/fine" > "$work/fine.log" 2>&1
grep -q "train: deeplabv3plus-mobilenetv2-lite ([0-9]* parameters, as recorded in $lite)" "$work/fine.log" ||
  { cat "$work/fine.log"; exit 1; }
loaded=$(sed -n 's/^init weights: \([0-9]*\) tensors.*/\1/p' "$work/fine.log")
test "${loaded:-0}" -gt 100 || { echo "init weights loaded '${loaded}' tensors"; cat "$work/fine.log"; exit 1; }
"$atrous" train "${data[@]}" --init-weights "$lite" --model tiny-deeplab --print-settings > "$work/named.txt"
expect_setting "$work/named.txt" 'model = "tiny-deeplab"'
"$atrous" train --preset camvid --init-weights "$lite" --print-settings > "$work/preset_model.txt"
expect_setting "$work/preset_model.txt" 'model = "tiny-deeplab"'
expect_failure "interop.safetensors does not say which model it holds" "$atrous" train "${data[@]}" \
  --init-weights "$(dirname "$0")/../fixtures/safetensors/interop.safetensors" --print-settings

# The weights record the scales and flip they were validated with: evaluate uses them unless told otherwise (and
# says so), giving what the explicit flags give; --scales / --no-flip override.
lite_eval=(--weights "$lite" --dataset synthetic --synthetic-size 32 --split val --limit 3 --json "")
"$atrous" evaluate "${lite_eval[@]}" > "$work/recorded.log"
grep -q "input scales 0.75 with flip as recorded in $lite" "$work/recorded.log" || { cat "$work/recorded.log"; exit 1; }
"$atrous" evaluate "${lite_eval[@]}" --scales 0.75 --flip > "$work/explicit.log"
diff <(grep "^mIoU" "$work/recorded.log") <(grep "^mIoU" "$work/explicit.log") ||
  { echo "recorded inference settings differ from the explicit flags"; exit 1; }
grep -q "^mIoU" "$work/explicit.log" || { cat "$work/explicit.log"; exit 1; }
"$atrous" evaluate "${lite_eval[@]}" --scales 1 --no-flip > "$work/overridden.log"
if grep -q "as recorded in $lite (--scales" "$work/overridden.log"; then cat "$work/overridden.log"; exit 1; fi

# --device on train, evaluate and quickstart (and as evaluate's config key): a bad spelling names the text and the
# accepted forms; a CUDA device runs where `atrous info` shows one (a checkpoint written there resumes on the CPU),
# and is a clear error before any work where none is.
evaluation=(--model tiny-deeplab --weights "$run/weights.safetensors" --dataset synthetic --synthetic-size 32
  --split val --limit 2)
expect_failure "setting device = 'gpu' is not a device; expected cpu, cuda" "$atrous" train --device gpu \
  --print-settings
expect_failure "--device 'cuda:' is not a device" "$atrous" evaluate "${evaluation[@]}" --device cuda: --json ""
printf 'device = "tpu"\n' > "$work/eval_device.toml"
expect_failure "--device 'tpu' is not a device" "$atrous" evaluate "${evaluation[@]}" --config "$work/eval_device.toml"
expect_failure "--device 'cuda:-1' is not a device" "$atrous" quickstart --device cuda:-1 --out-dir ""
"$atrous" evaluate "${evaluation[@]}" --device cpu --json "$work/eval_cpu.json" > "$work/eval_cpu.log"
grep -q "device cpu" "$work/eval_cpu.log" || { cat "$work/eval_cpu.log"; exit 1; }
info=$("$atrous" info)
# `atrous info` tells a real GPU from the CUDA simulator (kernels on the CPU), so timings are read right.
grep -q "^  CUDA kind: \(none\|simulator\|GPU\)" <<< "$info" || { echo "$info"; exit 1; }
if grep -q "CUDA devices visible: [1-9]" <<< "$info"; then
  "$atrous" train "${data[@]}" --log-every 2 --out-dir "$work/cuda" --max-iterations 3 --device cuda \
    > "$work/cuda.log" 2>&1 || { cat "$work/cuda.log"; exit 1; }
  grep -q "3 iterations on cuda:0" "$work/cuda.log" || { cat "$work/cuda.log"; exit 1; }
  "$atrous" train "${data[@]}" --log-every 2 --out-dir "$work/cuda" --max-iterations 4 --resume auto --device cpu \
    > "$work/cuda_resume.log" 2>&1 || { cat "$work/cuda_resume.log"; exit 1; }
  grep -q "at iteration 3" "$work/cuda_resume.log" || { cat "$work/cuda_resume.log"; exit 1; }
  "$atrous" evaluate "${evaluation[@]}" --device cuda --json "$work/eval_cuda.json" > "$work/eval_cuda.log"
  grep -q "device cuda:0" "$work/eval_cuda.log" || { cat "$work/eval_cuda.log"; exit 1; }
  "$atrous" evaluate "${evaluation[@]}" --crf --iterations 2 --device cuda --json "" > /dev/null
  "$atrous" quickstart --device cuda --steps 2 --batch 2 --size 32 --eval-images 1 --out-dir "$work/quick_cuda" \
    > "$work/quick_cuda.log" 2>&1 || { cat "$work/quick_cuda.log"; exit 1; }
  test -s "$work/quick_cuda/sample_mask.png"
else
  expect_failure "--device cuda: cuda:0 is not available" "$atrous" train "${common[@]}" --max-iterations 1 \
    --device cuda
  expect_failure "--device cuda:1: cuda:1 is not available" "$atrous" evaluate "${evaluation[@]}" --device cuda:1
  printf 'device = "cuda"\n' > "$work/eval_device.toml"
  expect_failure "--device cuda: cuda:0 is not available" "$atrous" evaluate "${evaluation[@]}" \
    --config "$work/eval_device.toml"
  expect_failure "cuda:0 is not available" "$atrous" quickstart --device cuda --out-dir ""
  if grep -q "CUDA backend built: no" <<< "$info"; then
    expect_failure "this atrous build has no CUDA support" "$atrous" quickstart --device cuda --out-dir ""
  fi
fi
echo "train/evaluate command line: ok"
