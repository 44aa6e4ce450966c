"""The C heap under a long-lived operator: few malloc arenas, and free pages handed back after a full list.

glibc gives a thread that allocates while another holds the main arena an arena of its own, up to
eight per core, and an arena keeps the pages it once used while any object still lives in them.
The operator's API calls run in a pool of worker threads; each full LIST of the jobs (thousands,
parsed a page at a time) ran in whichever worker was free, left the new copies it kept scattered
among the freed pages of that worker's arena, and so raised that arena to the list's high-water
mark.  Measured with 5,000 finished jobs listed every 5 s: 253 MiB after the first list, 404 MiB
after a dozen, one step per arena; with one arena it stayed at 238 MiB.  On a node with many cores
the number of arenas, and so the steps, would be larger still.

Both calls are glibc's own (``mallopt``, ``malloc_trim``); where the C library is another one
(musl, say) they do nothing and say so.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter for the most arenas (malloc.h)
ARENAS = 2  # the main arena and one for the worker threads: their calls wait on the network, not on malloc


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the symbols the process already has: its C library's malloc
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap the malloc arenas (call before the worker threads start).  Left alone where the environment
    sets ``MALLOC_ARENA_MAX`` (an operator of the cluster chose) or the C library is not glibc.
    Whether the cap was set."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def give_back_free_pages() -> bool:
    """Hand the whole free pages of every arena back to the kernel (after a full list freed its pages:
    the list's garbage lies between objects that stay, so the heap cannot shrink on its own).  Whether
    the C library could be asked."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
