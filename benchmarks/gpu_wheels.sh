#!/usr/bin/env bash
# Prepare a GPU machine without network for benchmarks/gpu_check.py: download exactly the wheels its Python lacks.
#
# Run as: bash benchmarks/gpu_wheels.sh   (here, where pip reaches the package index; from the repository root)
#
# The target (an H200 machine of this workplace, see benchmarks/GPU_CHECK.md) has Python 3.12 with torch 2.11
# (CUDA 13.0), accelerate 1.15, huggingface_hub 1.33, tokenizers 0.23, safetensors 0.8, numpy, pandas, pyarrow,
# scipy, scikit-learn, matplotlib, rich, typer, httpx, jinja2, pyyaml, xxhash and triton, but not TRL, datasets or
# the rest. Its transformers is 5.17, older than the 5.23 that chatrecipe's training keys need
# (`activation_checkpointing`), so transformers travels too, and so does typer 0.29 (the version the suite runs
# with here; the image's has no pydantic, which 0.29 needs). What the check drives needs nothing else: openai,
# fastapi, gguf, sqlalchemy and the synth/annotation dependencies are imported only by commands it does not run.
#
# Writes .whl/ (git-ignored) and benchmarks/gpu_assets/smollm2-tokenizer/ (the embedded model's tokenizer files,
# git-ignored), checks that they and the source tree fit in the 64 MiB a device call carries, and prints the one
# command that installs the wheels there and runs the check.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

# Versions: constraints.txt's (what the test suite last passed with); the two GPU-only packages, which the suite
# never installs, are pinned here
# (datasets needs dill, multiprocess and an fsspec <= 2026.9.0; typer 0.29 needs pydantic and its companions)
MISSING=(trl transformers peft datasets dill multiprocess fsspec datasketch
         typer pydantic pydantic-core annotated-types typing-inspection typing-extensions)
mapfile -t WHEELS < <("$PYTHON" - "${MISSING[@]}" <<'PY'
import re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = {norm(line.split("==")[0]): line.strip() for line in open("constraints.txt") if "==" in line}
missing = [name for name in sys.argv[1:] if norm(name) not in pins]
if missing:
    sys.exit(f"constraints.txt pins no version of {', '.join(missing)}")
print("\n".join(pins[norm(name)] for name in sys.argv[1:]))
PY
)
WHEELS+=(
  liger-kernel==0.8.5    # chatrecipe[gpu]: Liger's Triton kernels, a GPU default when installed
  bitsandbytes==0.50.2   # chatrecipe[qlora]; slimmed below to the CUDA 13 library
)
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

rm -rf .whl && mkdir -p .whl
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d .whl "${WHEELS[@]}"

# bitsandbytes ships one library per CUDA and ROCm version (43 MB); the target's torch is built for CUDA 13.0, so
# only the CPU, CUDA 13.0 and 13.2 libraries are kept (about 3 MB), and the wheel's RECORD is rewritten to match
"$PYTHON" - <<'PY'
import base64, hashlib, pathlib, re, zipfile

for wheel in pathlib.Path(".whl").glob("bitsandbytes-*.whl"):
    keep = re.compile(r"libbitsandbytes_(cpu|cuda13\d)\.so$")
    slim = wheel.with_suffix(".slim")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
        names = [n for n in src.namelist() if not re.search(r"libbitsandbytes_\w+\.so$", n) or keep.search(n)]
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = []
        for name in names:
            if name == record:
                continue
            data = src.read(name)
            dst.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{name},sha256={digest},{len(data)}")
        dst.writestr(record, "\n".join(rows + [f"{record},,"]) + "\n")
    slim.replace(wheel)
    print(f"slimmed {wheel.name}: {wheel.stat().st_size / 2**20:.1f} MiB")
PY

# the embedded SmolLM2's tokenizer files: every model of the check is random-initialised around them
ASSETS=benchmarks/gpu_assets/smollm2-tokenizer
rm -rf "$ASSETS" && mkdir -p "$ASSETS"
MODEL=$(PYTHONPATH=src "$PYTHON" -c "from chatrecipe.models import EMBEDDED, model_path; print(model_path(EMBEDDED))")
for f in tokenizer.json tokenizer_config.json chat_template.jinja special_tokens_map.json; do
  [ -f "$MODEL/$f" ] && cp "$MODEL/$f" "$ASSETS/"
done

wheels=$(du -sb .whl | cut -f1)
assets=$(du -sb benchmarks/gpu_assets | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
total=$((wheels + assets + tree))
ls .whl
"$PYTHON" -c "import sys; w, a, t = (int(x) / 2**20 for x in sys.argv[1:]); print(f'wheels {w:.1f} MiB + tokenizer {a:.1f} MiB + source tree {t:.1f} MiB = {w + a + t:.1f} MiB (a device call carries at most 64 MiB)')" "$wheels" "$assets" "$tree"
if [ "$total" -ge $((64 * 1048576)) ]; then
  echo "too large for one device call: drop bitsandbytes from WHEELS (QLoRA is then reported as skipped)" >&2
  exit 1
fi
cat <<'EOF'

On the GPU machine: the device tool's `run` with carry [".whl", "benchmarks/gpu_assets"], timeout_s 330, and
(benchmarks/GPU_CHECK.md says what each figure means):
set -o pipefail; python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1; export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false; nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv; python3 benchmarks/gpu_check.py --budget 270 --work /tmp/gpu-check --out $OUT 2>&1 | tee $OUT/gpu_check.log
EOF
