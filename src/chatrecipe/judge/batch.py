"""Send many judge prompts in one go, resumably: what the output file already holds is never asked again."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.backends.redact import redact
from chatrecipe.data.resumable import append_jsonl, read_appended
from chatrecipe.progress import progress_bar


def estimate_line(judge: Backend, conversations: list[list[dict]], params: GenerationParams, done: int) -> str:
    """What a judging run will ask for before it starts: requests, approximate tokens and, for priced models, cost."""
    prompt_tokens = sum(len(m["content"]) for c in conversations for m in c) // 4  # ~4 characters per token
    completion_tokens = params.max_new_tokens * len(conversations)
    inner = getattr(judge, "inner", judge)
    ledger = getattr(inner, "ledger", None)
    cost = ""
    if ledger is not None:
        dollars = ledger.estimate(getattr(inner, "api_model", judge.model), prompt_tokens, completion_tokens)
        cost = f", at most ~${dollars:.2f}" if dollars else ", no price known for this model (cost not tracked)"
    return (f"{judge.model}: {len(conversations)} requests to send ({done} already done), ~{prompt_tokens:,} prompt "
            f"tokens + up to {completion_tokens:,} completion tokens{cost}")


def judge_items(judge: Backend, items: list[tuple[tuple, list[dict], dict]], output: Path, *,
                parse, params: GenerationParams, label: str, prefill: str | None = None) -> list[dict]:
    """`items` are (key, messages, record fields); `parse(text, fields)` returns (verdict fields, error).

    `prefill` starts the judge's reply (for example "Verdict: [["), so a small local judge must commit to a
    verdict instead of drifting; the recorded `raw` text includes it. Local backends continue the prefill;
    OpenAI-compatible endpoints generally do not, so use it with local judges.

    Each judgment is appended to `output` the moment its answer arrives (the backend's `on_result`), so a killed
    run loses none it received and a rerun asks only for the rest. Records whose request failed carry `error` and
    are counted by the callers, never defaulted. Returns the records in the order of `items`.
    """
    output = Path(output)
    found = {tuple(r["_key"]): r for r in read_appended(output) if "_key" in r}
    items = [((*key, prefill), messages, fields) for key, messages, fields in items]  # a prefill is another prompt
    todo = [item for item in items if tuple(item[0]) not in found]
    settings = {**redact({k: v for k, v in judge.describe().items() if k != "chat_template"}),
                "params": params.to_dict()}
    suffix = [{"role": "assistant", "content": prefill}] if prefill else []
    if todo:
        print(estimate_line(judge, [messages for _, messages, _ in todo], params, len(items) - len(todo)),
              file=sys.stderr)

    def keep(item: tuple, result) -> None:
        key, _, fields = item
        if result.ok:
            result.text = (prefill or "") + result.text
            verdict, error = parse(result.text, fields)
        else:
            verdict = parse(None, fields)[0]  # the empty verdict fields (winner/score = None)
            error = f"request failed: {result.error}"
        record = {**fields, **verdict, "judge": judge.model, "raw": result.text, "error": error, "prefill": prefill,
                  "judge_settings": settings, "date": time.strftime("%Y-%m-%d"), "_key": list(key)}
        append_jsonl(output, record)
        found[tuple(key)] = record

    with progress_bar(label, len(items), completed=len(items) - len(todo)) as advance:
        chunk = 64  # bounds what one call asks for, so a spending cap stops between calls, not before the first
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            # every backend reports each answer through on_result as it comes (Backend.chat's contract)
            judge.chat([messages + suffix for _, messages, _ in part], params, progress=advance,
                       on_result=lambda index, result, part=part: keep(part[index], result))
    return [found[tuple(key)] for key, _, _ in items if tuple(key) in found]
