"""Keep a worker's resident memory from growing with the memory-hard work it did once.

Each token request verifies an argon2id hash in a worker thread, and argon2 allocates
19 MiB for it (`app/auth/secrets.py`). glibc serves a block that large with mmap and
unmaps it on free, but the first such free raises its mmap threshold to the block's size,
after which every later 19 MiB block comes from the thread's own heap arena and stays
resident when freed: about 19 MiB per thread that ever hashed. Measured with `make bench`:
a worker grew from 136 to 174 MB after two sequential token requests and a batch run, and
to 231 MB after tokens at four connections. Fixing the threshold at 1 MiB (glibc then keeps
it) returns such blocks to the system on free: 150 MB after the same run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD_BYTES = 1 << 20


def return_large_blocks_to_the_system() -> bool:
    """Make glibc unmap blocks of 1 MiB and more on free; False where that does not apply."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    if mallopt is None:  # not glibc (musl has no mallopt and no dynamic threshold)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
