"""OpenAI summarize-from-feedback comparisons: `info.post`, `summaries` (two, with `text`) and `choice` (0 or 1)."""

from chatrecipe.data.schema import RecordError, validate_preference

NAME = "summarize"
KIND = "preference"


def fits(row: dict) -> str | None:
    return None if isinstance(row.get("summaries"), list) and "choice" in row and "info" in row else \
        "no `info`, `summaries`, `choice` fields"


def convert(row: dict) -> list[dict]:
    info, summaries, choice = row["info"], row["summaries"], row["choice"]
    if not isinstance(info, dict) or not isinstance(info.get("post") or info.get("article"), str):
        raise RecordError("info.post", "missing the post to summarise")
    if len(summaries) != 2 or choice not in (0, 1):
        raise RecordError("choice", "needs exactly two summaries and a choice of 0 or 1")
    text = info.get("post") or info.get("article")
    title = f"Title: {info['title']}\n\n" if info.get("title") else ""
    prompt = f"Summarize this post in a few sentences.\n\n{title}{text}"
    return [validate_preference({"prompt": prompt, "chosen": summaries[choice]["text"],
                                 "rejected": summaries[1 - choice]["text"], "category": "summarization",
                                 "source": "summarize-from-feedback"})]
