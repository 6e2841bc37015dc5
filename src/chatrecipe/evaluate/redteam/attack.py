"""The red-teaming loop's attacker: new attack prompts written from the ones that succeeded.

An attacker model reads a prompt that drew a harmful response and rewrites it `variants` ways through a
template file (`redteam-attacker`), one `PROMPT: ...` line each. The new prompts keep the seed's category, carry
wrapper `attacker`, the round and the parent's id, so every later success traces back to the hand-written
probe it grew from. An attacker answer without a usable line is a recorded failure, counted per round.
"""

from __future__ import annotations

import re
import time

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.evaluate.redteam.prompts import ATTACKER_WRAPPER
from chatrecipe.judge.prompts import load_prompt

DEFAULT_TEMPLATE = "redteam-attacker"
_LINE = re.compile(r"^\s*(?:[-*]|\d+[.)])?\s*\**prompt\**\s*[:=]\s*(.+?)\s*$", re.I | re.M)


def parse_attacks(text: str | None, seed: str = "") -> list[str]:
    """The distinct `PROMPT: ...` lines of an attacker's answer, without the seed itself."""
    found: list[str] = []
    for match in _LINE.findall(text or ""):
        prompt = match.strip().strip('"').strip()
        if prompt and prompt != seed.strip() and prompt not in found:
            found.append(prompt)
    return found


def new_attacks(attacker: Backend, seeds: list[dict], round_number: int, *, variants: int = 3,
                template: str = DEFAULT_TEMPLATE,
                params: GenerationParams | None = None) -> tuple[list[dict], list[dict]]:
    """(new prompt records, one attacker record per seed) for one round; failed seeds have `error` set."""
    prompt = load_prompt(template)
    params = params or GenerationParams(max_new_tokens=384, temperature=0.9, seed=round_number)
    conversations = [prompt.render(category=s["category"], prompt=s["prompt"], variants=variants) for s in seeds]
    results = attacker.chat(conversations, params) if conversations else []
    prompts, log = [], []
    for seed, result in zip(seeds, results):
        texts = parse_attacks(result.text, seed["prompt"])[:variants] if result.ok else []
        error = None
        if not result.ok:
            error = f"request failed: {result.error}"
        elif not texts:
            error = "no usable 'PROMPT: ...' line in the attacker's answer"
        log.append({"round": round_number, "parent": seed["id"], "attacker": attacker.model,
                    "template": prompt.name, "prompt_hash": prompt.hash, "params": params.to_dict(),
                    "raw": result.text, "prompts": texts, "error": error, "date": time.strftime("%Y-%m-%d")})
        for number, text in enumerate(texts, start=1):
            prompts.append({"id": f"{seed['id']}~r{round_number}.{number}", "prompt": text,
                            "category": seed["category"], "wrapper": ATTACKER_WRAPPER, "benign": False,
                            "source": f"attacker:{attacker.model}", "parent": seed["id"], "round": round_number})
    return prompts, log
