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
    log.info("done in %.3f s", time.perf_counter() - started)
