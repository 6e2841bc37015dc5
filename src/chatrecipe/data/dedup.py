"""Exact and near-duplicate removal with MinHash LSH (datasketch), keeping one record per cluster.

Run as: `chatrecipe data dedup train.jsonl -o dedup.jsonl --threshold 0.8`.

datasketch is a maintained, pure-Python MinHash/LSH library that runs in-process on a laptop; for data that
outgrows one process the same step is datatrove's MinHash pipeline (`--engine datatrove`,
chatrecipe.data.dedup_cluster), sharded over local processes or Slurm jobs. Near duplicates are found on word 5-gram shingles of
the whole example; the first record of each cluster (file order) is kept, and the clusters are returned for review.
"""

from __future__ import annotations

import hashlib

from chatrecipe.data.text import full_text, words


def _shingles(text: str, size: int = 5) -> set[bytes]:
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i:i + size]).encode() for i in range(len(tokens) - size + 1)}


def dedup(records: list[dict], threshold: float = 0.8, num_perm: int = 128, seed: int = 1) -> tuple[list, list]:
    """(kept records, clusters) where each cluster lists the ids of a kept record and the duplicates it absorbed."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    exact: dict[str, str] = {}
    kept, clusters = [], {}
    for index, record in enumerate(records):
        text = full_text(record)
        rid = str(record.get("id", index))
        digest = hashlib.sha1(" ".join(words(text)).encode()).hexdigest()
        if digest in exact:
            clusters.setdefault(exact[digest], []).append({"id": rid, "kind": "exact"})
            continue
        signature = MinHash(num_perm=num_perm, seed=seed)
        signature.update_batch(list(_shingles(text)))
        near = lsh.query(signature)
        if near:
            clusters.setdefault(near[0], []).append({"id": rid, "kind": "near"})
            continue
        key = f"{rid}#{index}"
        lsh.insert(key, signature)
        exact[digest] = key
        kept.append(record)
    review = [{"kept": key.rsplit("#", 1)[0], "duplicates": dups} for key, dups in clusters.items()]
    return kept, review
