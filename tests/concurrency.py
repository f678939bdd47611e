"""Several requests or processes at once, as threads."""
from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(worker: Callable[[int], None], count: int, timeout: float = 180) -> list[str]:
    """Runs worker(0) … worker(count - 1), each in its own thread, and waits for them; answers the
    exceptions they raised (as repr) and the workers still running, for the test to assert there
    were none."""
    failures: list[str] = []
    lock = threading.Lock()

    def guarded(number: int) -> None:
        try:
            worker(number)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            with lock:
                failures.append(repr(exc))

    threads = [threading.Thread(target=guarded, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return failures + [f"worker {number} still running after {timeout} s"
                       for number, thread in enumerate(threads) if thread.is_alive()]
