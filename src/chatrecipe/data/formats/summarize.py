"""OpenAI summarize-from-feedback comparisons: `info` (the post or article), two `summaries`, the labeller's
`choice` (0 or 1), `worker`, `batch`, `split` and `extra.confidence`.

The labeller's confidence in the choice (1 to 9) is kept as the `rating` on scale `confidence-9`, and becomes
the `margin` on the same 0-3 range the annotation app's LLaMA-2 margins use: 3 * (confidence - 1) / 8, so a
sure choice weighs like "significantly better" and an unsure one like "negligibly better". The worker is the
`annotator`; split, batch, the summaries' policies and notes, and the post's id and subreddit are in `metadata`.
"""

from chatrecipe.data.schema import RecordError, validate_preference

NAME = "summarize"
KIND = "preference"
SIGNATURE = "`info`, `summaries` and `choice`"
CONFIDENCE = range(1, 10)


def fits(row: dict) -> str | None:
    return None if isinstance(row.get("summaries"), list) and "choice" in row and "info" in row else \
        "no `info`, `summaries`, `choice` fields"


def _confidence(row: dict):
    extra = row.get("extra")
    value = extra.get("confidence") if isinstance(extra, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in CONFIDENCE:
        raise RecordError("extra.confidence", f"must be a whole number from 1 to 9, got {value!r}")
    return int(value)


def convert(row: dict) -> list[dict]:
    info, summaries, choice = row["info"], row["summaries"], row["choice"]
    if not isinstance(info, dict) or not isinstance(info.get("post") or info.get("article"), str):
        raise RecordError("info.post", "missing the post to summarise")
    if len(summaries) != 2 or choice not in (0, 1):
        raise RecordError("choice", "needs exactly two summaries and a choice of 0 or 1")
    chosen, rejected = summaries[choice], summaries[1 - choice]
    if not isinstance(chosen, dict) or not isinstance(rejected, dict):
        raise RecordError("summaries", "each summary must be an object with `text`")
    text = info.get("post") or info.get("article")
    title = f"Title: {info['title']}\n\n" if info.get("title") else ""
    prompt = f"Summarize this post in a few sentences.\n\n{title}{text}"
    confidence = _confidence(row)
    metadata = {"split": row.get("split"), "batch": row.get("batch"), "post_id": info.get("id"),
                "subreddit": info.get("subreddit") or info.get("site"), "chosen_policy": chosen.get("policy"),
                "rejected_policy": rejected.get("policy"), "chosen_note": chosen.get("note"),
                "rejected_note": rejected.get("note")}
    return [validate_preference({
        "prompt": prompt, "chosen": chosen.get("text"), "rejected": rejected.get("text"), "category": "summarization",
        "source": "summarize-from-feedback", "annotator": row.get("worker"),
        "rating": confidence, "scale": "confidence-9" if confidence is not None else None,
        "margin": 3 * (confidence - 1) / 8 if confidence is not None else None,
        "metadata": {k: v for k, v in metadata.items() if v is not None}})]
