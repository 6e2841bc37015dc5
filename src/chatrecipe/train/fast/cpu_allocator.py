"""Keep freed memory for reuse while training on a CPU, instead of handing it back to the OS every step.

A training step allocates and frees the same tensors every time: bf16 copies of the weights under autocast, their
gradients, activations. glibc serves most of these from fresh `mmap`s (its threshold adapts only up to a point) and
trims the heap as soon as they are freed, so the next step takes them back one page fault at a time: about a
quarter of SFT CPU time here was system time (PERFORMANCE-NOTES). Raising the mmap threshold to its maximum and the
trim threshold to 1 GiB keeps those blocks in the process, which made full SFT of the embedded model about 1.1x
faster (`benchmarks/bench_sft.py --ours keep_freed_memory=false` measures it), at the cost of up to 1 GiB of freed
memory staying resident. Blocks above 32 MiB (the largest threshold glibc accepts) still come and go with `mmap`.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2 ** 20  # glibc's upper limit on 64-bit
_TRIM_THRESHOLD = 2 ** 30


def keep_freed_memory(enabled: bool = True) -> bool:
    """Tune glibc's allocator for training (process-wide, from here on); False where there is no glibc."""
    if not enabled:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, macOS, Windows: leave the allocator alone
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
