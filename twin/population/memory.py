"""Keeping the allocator's pages while the nation is built, chunk after chunk.

Building 126 million residents in chunks allocates and frees the same few dozen temporary arrays
(tens of MB each) thirty times over. glibc hands large blocks back to the kernel as soon as they
are freed, so every chunk pays for fresh zeroed pages again: 430,000 page faults and about 7 s of
system time at 1:1. While the build runs, :func:`retained_heap` asks glibc to keep freed blocks of
up to 32 MB on its heap (``mallopt``) and to trim only above 512 MB; afterwards it restores the
default thresholds and trims, so the process gives the memory back. Elsewhere than glibc it does
nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import Iterator

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
DEFAULT_MMAP_MAX = 65536  # glibc's default number of mmapped blocks
DEFAULT_THRESHOLD = 128 * 1024


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        _ = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return libc


@contextlib.contextmanager
def retained_heap(
    mmap_threshold: int = 32 * 2**20, trim_threshold: int = 512 * 2**20, *, all_on_heap: bool = False
) -> Iterator[bool]:
    """Within the block, freed blocks below ``mmap_threshold`` stay on the heap; yields whether it applied.

    ``all_on_heap`` puts every block on the heap, however large (``M_MMAP_MAX`` 0): for a run that
    frees and re-allocates arrays of hundreds of MB option after option, so that the pages it has
    touched once are reused rather than handed back and faulted in again."""
    libc = _libc()
    if libc is None:
        yield False
        return
    libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
    if all_on_heap:
        libc.mallopt(M_MMAP_MAX, 0)
    try:
        yield True
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_THRESHOLD)
        if all_on_heap:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.malloc_trim(0)
