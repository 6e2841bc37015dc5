"""Which exact weights a result belongs to: the `revision` column of the leaderboards (RM benchmark, lm-eval).

The recipe's leaderboard lists a model once per revision, so two checkpoints of one run, or a model retrained
in the same folder, must not share a row. A hub model's revision is what the user asked for (`name@rev`, else
`main`); a local folder's is a fingerprint of its weight files (size plus the first and last MiB of each), cheap
even for large models and different whenever the weights are.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")
_CHUNK = 1 << 20


def split_revision(ref: str) -> tuple[str, str | None]:
    """`org/name@rev` -> (`org/name`, `rev`); folders and other references keep their `@` (None revision)."""
    if "@" in ref and not Path(ref).exists() and not ref.startswith(("openai:", "vllm:")):
        name, revision = ref.rsplit("@", 1)
        return name, revision or None
    return ref, None


def fingerprint(files: list[Path]) -> str:
    """12 hex digits over files' names, sizes, first and last MiB."""
    digest = hashlib.sha256()
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(_CHUNK))
            if size > 2 * _CHUNK:
                handle.seek(-_CHUNK, 2)
                digest.update(handle.read(_CHUNK))
    return digest.hexdigest()[:12]


def folder_fingerprint(folder: Path) -> str:
    """The fingerprint of a model folder's config and weight files."""
    return fingerprint(sorted(p for p in folder.iterdir() if p.is_file() and (
        p.suffix in WEIGHT_SUFFIXES or p.name in ("config.json", "adapter_config.json"))))


def model_revision(ref: str) -> str:
    """A short revision label for any model reference (see the module docstring)."""
    from chatrecipe.models import model_path, resolve

    name, revision = split_revision(ref)
    if revision:
        return revision
    source = resolve(name)
    if source.kind in ("folder", "embedded"):
        return folder_fingerprint(Path(model_path(name)))
    if source.kind == "gguf":
        return fingerprint([Path(source.path) / source.gguf_file])
    if source.kind == "openai":
        return "api"
    return "main"
