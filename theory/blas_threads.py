"""One BLAS thread for the duration of a block: :func:`one_blas_thread`.

The tiled Gram driver of :mod:`theory.limits` and a sweep task
(:func:`theory.sweep.compute_task`) run their own parallelism (threads, processes) and want
BLAS to stay on the calling thread. Two reasons, both measured on this project's 2-core
machine:

* a multi-threaded BLAS inside each thread's small GEMM oversubscribes the cores (48 ms
  instead of 1.7 ms for a 256×16×1024 product), and its worker threads spin after each
  call, landing on whatever runs next;
* OpenBLAS rounds some products differently with one thread and with several (a 420-wide
  masked layer's NTK term moved by 2e-16), so a result that must not depend on how the
  work was split has to be computed with a fixed thread count.

The limit is process-wide while the block runs (BLAS has one setting per process), which
is what ``threadpoolctl`` does; the controller that finds the loaded BLAS libraries is
built once (0.5 ms) and reused (then ~20 us per block).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]

_CONTROLLER: ThreadpoolController | None = None
_LOCK = threading.Lock()


def _controller() -> ThreadpoolController:
    global _CONTROLLER
    with _LOCK:
        if _CONTROLLER is None:
            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit every loaded BLAS library to one thread inside the ``with`` block (nested
    blocks are fine: each restores what it found)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
