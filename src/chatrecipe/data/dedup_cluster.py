"""Dedup for data that outgrows one process: datatrove's MinHash pipeline, locally or on a Slurm cluster.

Run as: `chatrecipe data dedup train.jsonl -o dedup.jsonl --engine datatrove --tasks 8 --workers 2`.

The four datatrove stages (signatures, LSH buckets, clusters, filter) run with LocalPipelineExecutor here and,
unchanged, with SlurmPipelineExecutor on a cluster. Shingles are the same word 5-grams as the in-process
datasketch path (chatrecipe.data.dedup), through a datatrove WordTokenizer over our word splitter, so both
engines see the same duplicates and no spaCy/NLTK models are needed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from datatrove.utils.word_tokenizers import WordTokenizer

from chatrecipe.data.text import full_text, words


class Words(WordTokenizer):
    """chatrecipe's word splitter (lower-cased `\\w+` runs) as a datatrove word tokenizer."""

    def word_tokenize(self, text: str) -> list[str]:
        return words(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def dedup_datatrove(records: list[dict], work_dir: str | Path, threshold: float = 0.8, tasks: int = 4,
                    workers: int = 2, executor: str = "local", slurm: dict | None = None) -> tuple[list, list]:
    """Dedup with datatrove's MinHash pipeline (signatures, LSH buckets, clusters, filter), for data that
    outgrows one process: `executor="local"` runs the four stages with LocalPipelineExecutor (`tasks` shards,
    `workers` processes), `"slurm"` submits them as dependent Slurm jobs (SlurmPipelineExecutor, `slurm` holds
    its arguments: partition, time, cpus_per_task, ...). `work_dir` keeps every stage's output, so a rerun
    skips completed tasks. Returns (kept records, clusters) like `dedup`; a cluster here names the removed ids.

    datatrove bands the signature into b buckets of r=8 hashes; b is chosen so that (1/b)^(1/r), the Jaccard
    similarity at which a pair becomes a candidate half the time, is nearest to `threshold`.
    """
    from datatrove.pipeline.dedup import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                          MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.text import TextNormConfig

    texts = [full_text(record) for record in records]
    rows_per_hash = 8
    buckets = max(1, round(threshold ** -rows_per_hash))
    # sha1 shingle hashes: datatrove's default xxhash call passes str, which xxhash >= 3.5 refuses
    # numbers kept (datatrove maps every digit to 0 by default): "12 times 7" and "13 times 8" are two examples
    config = MinhashConfig(n_grams=5, num_buckets=buckets, hashes_per_bucket=rows_per_hash, seed=1,
                           hash_config=HashConfig(hash_fc="sha1", precision=64),
                           norm_config=TextNormConfig(norm_numbers=False))
    tasks = max(1, min(tasks, len(records) or 1))
    # one folder per (texts, settings): datatrove skips tasks it finished, so a rerun resumes, and changed
    # input can never pick up stale signatures
    digest = hashlib.sha1(json.dumps([texts, str(config), tasks]).encode()).hexdigest()[:16]
    work = Path(work_dir) / digest
    shards = work / "input"
    shards.mkdir(parents=True, exist_ok=True)
    handles = [open(shards / f"{i:05d}.jsonl", "w", encoding="utf-8") for i in range(tasks)]
    for index, text in enumerate(texts):  # contiguous shards, so the kept copy is the first in file order
        handles[index * tasks // len(texts)].write(json.dumps({"id": str(index), "text": text}, ensure_ascii=False)
                                                   + "\n")
    for handle in handles:
        handle.close()

    def run(name, pipeline, stage_tasks, depends=None):
        if executor == "slurm":
            from datatrove.executor import SlurmPipelineExecutor

            return SlurmPipelineExecutor(pipeline=pipeline, tasks=stage_tasks, job_name=f"dedup-{name}",
                                         logging_dir=str(work / "logs" / name), depends=depends, **(slurm or {}))
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(pipeline=pipeline, tasks=stage_tasks, workers=min(workers, stage_tasks),
                                     logging_dir=str(work / "logs" / name), depends=depends)

    def reader():
        return JsonlReader(str(shards), text_key="text", id_key="id")

    signatures = run("signatures", [reader(), MinhashDedupSignature(str(work / "signatures"), config=config,
                                                                    language=Words())], tasks)
    bucketed = run("buckets", [MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"), config=config)],
                   config.num_buckets, depends=signatures)
    clustered = run("clusters", [MinhashDedupCluster(str(work / "buckets"), str(work / "remove_ids"), config=config,
                                                     save_cluster_id=True)], 1, depends=bucketed)
    filtered = run("filter", [reader(), MinhashDedupFilter(str(work / "remove_ids"), load_cluster_ids=True,
                                                           exclusion_writer=JsonlWriter(str(work / "removed"))),
                              JsonlWriter(str(work / "kept"))], tasks, depends=clustered)
    filtered.run()  # runs the stages it depends on first; on Slurm this submits all four jobs and returns
    if executor == "slurm":
        return [], []
    kept = _docs(work / "kept")
    removed = _docs(work / "removed")
    keeper = {cluster: doc_id for doc_id, cluster in kept.items() if cluster is not None}
    clusters: dict = {}
    for doc_id, cluster in sorted(removed.items(), key=lambda item: int(item[0])):
        name = keeper.get(cluster)
        clusters.setdefault(name, []).append({"id": str(records[int(doc_id)].get("id", doc_id)), "kind": "near"})
    review = [{"kept": str(records[int(k)].get("id", k)) if k is not None else None, "duplicates": dups}
              for k, dups in clusters.items()]
    return [r for i, r in enumerate(records) if str(i) in kept], review


def _docs(folder: Path) -> dict[str, int | None]:
    """Document id -> minhash cluster id (None when it is in no cluster) of a datatrove JsonlWriter folder."""
    docs = {}
    for path in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    doc = json.loads(line)
                    docs[doc["id"]] = (doc.get("metadata") or {}).get("minhash_cluster_id")
    return docs
