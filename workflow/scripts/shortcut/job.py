"""The few lines every rule script shares: logging to the rule's log file, one-line errors."""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable

from .errors import DataError
from .files import log_file_handler

log = logging.getLogger("shortcut")


def run(snakemake, main: Callable[[object], None]) -> None:
    """Call ``main(snakemake)`` with logging to ``snakemake.log[0]``.

    Bad input (:class:`DataError`) ends the job with the one-line message on stderr and in the
    log and exit status 1; outputs are written atomically, so nothing partial is left behind.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if len(snakemake.log):
        handlers.append(log_file_handler(snakemake.log[0]))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", handlers=handlers, force=True)
    started = time.perf_counter()
    log.info("rule %s %s", snakemake.rule, dict(snakemake.wildcards.items()))
    try:
        main(snakemake)
    except DataError as exc:
        log.error("%s", exc)
        logging.shutdown()
        sys.exit(1)
    log.info("done in %.3f s, peak memory %.0f MB", time.perf_counter() - started, peak_memory_mb())


def peak_memory_mb() -> float:
    """The largest resident set of this process, or of a child it waited for, in MB: the
    kernel's own count, unlike Snakemake's benchmark sampling, which can miss a short peak.

    On Linux this process's own peak is ``VmHWM`` of ``/proc/self/status``: ``getrusage`` would
    also count what the forked Snakemake process held before the job's Python was executed
    (about 165 MB), a floor under every job's figure. Elsewhere it is ``getrusage``'s (an upper
    bound); NaN where the platform has no ``resource`` module."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / per_mb
    try:
        with open("/proc/self/status", encoding="ascii") as fh:  # file-io: this process's own peak
            own = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / per_mb)
