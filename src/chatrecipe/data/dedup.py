"""Exact and near-duplicate removal with MinHash LSH (datasketch), keeping one record per cluster.

Run as: `chatrecipe data dedup train.jsonl -o dedup.jsonl --threshold 0.8 [--key prompt]`.

datasketch is a maintained, pure-Python MinHash/LSH library that runs in-process on a laptop; for data that
outgrows one process the same step is datatrove's MinHash pipeline (`--engine datatrove`,
chatrecipe.data.dedup_cluster), sharded over local processes or Slurm jobs. Near duplicates are found on word
5-gram shingles; the first record of each cluster (file order) is kept, and the clusters are returned for review.

What counts as "the same record" (`key`):
- `example` (default): a conversation is its whole text; a preference pair is (prompt, chosen, rejected). Pairs
  are matched on their prompt and then on each reply separately, because in HH-RLHF many comparisons share one
  long dialog and differ only in short final replies: over the whole text those replies would vanish in the
  dialog's shingles, and distinct comparisons would be thrown away as "near duplicates".
- `prompt`: one record per prompt (near-duplicate prompts included), whatever the replies.
"""

from __future__ import annotations

import hashlib

from chatrecipe.data.text import full_text, prompt_text, reply_text, words

KEYS = ("example", "prompt")


def _shingles(text: str, size: int = 5) -> set[bytes]:
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i:i + size]).encode() for i in range(len(tokens) - size + 1)}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _views(record: dict, key: str) -> tuple[str, list[str]]:
    """(text searched with LSH, texts that must also match one by one) for one record."""
    if key == "prompt":
        return prompt_text(record), []
    if "chosen" in record and "rejected" in record:
        replies = [reply_text(record[side]) for side in ("chosen", "rejected")]
        return prompt_text(record), replies
    return full_text(record), []


def dedup(records: list[dict], threshold: float = 0.8, num_perm: int = 128, seed: int = 1,
          key: str = "example") -> tuple[list, list]:
    """(kept records, clusters) where each cluster lists the ids of a kept record and the duplicates it absorbed."""
    from datasketch import MinHash, MinHashLSH

    if key not in KEYS:
        raise ValueError(f"unknown dedup key {key!r}; use one of {', '.join(KEYS)}")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    exact: dict[str, str] = {}
    details: dict[str, list[set]] = {}
    kept, clusters = [], {}
    for index, record in enumerate(records):
        main, extra = _views(record, key)
        rid = str(record.get("id", index))
        digest = hashlib.sha1("\x00".join(" ".join(words(t)) for t in [main, *extra]).encode()).hexdigest()
        if digest in exact:
            clusters.setdefault(exact[digest], []).append({"id": rid, "kind": "exact"})
            continue
        signature = MinHash(num_perm=num_perm, seed=seed)
        signature.update_batch(list(_shingles(main)))
        mine = [_shingles(t) for t in extra]
        # a pair is a near duplicate only when its prompt is and each of its replies is too
        near = [k for k in lsh.query(signature)
                if all(_jaccard(a, b) >= threshold for a, b in zip(mine, details[k]))]
        if near:
            clusters.setdefault(min(near, key=lambda k: int(k.rsplit("#", 1)[1])), []).append({"id": rid,
                                                                                              "kind": "near"})
            continue
        name = f"{rid}#{index}"
        lsh.insert(name, signature)
        exact[digest] = name
        details[name] = mine
        kept.append(record)
    review = [{"kept": name.rsplit("#", 1)[0], "duplicates": dups} for name, dups in clusters.items()]
    return kept, review
