"""``avsteg run``: the worker as a long-running service, or one poll for cron/systemd timers.

APScheduler runs the poll as an interval job (``max_instances=1``, coalescing, so a slow poll is
never run twice at once and missed runs collapse into one). With ``worker.idle`` a second IMAP
connection waits in IDLE and, when the server reports new mail, brings the next poll forward to
now: new mail is answered within a second or two instead of at the next interval. Exchange
Online drops idle connections; the IDLE watcher reconnects and carries on.

Everything it runs is built by the composition root (:mod:`avsteg.bootstrap`): the worker, the
IDLE watcher's connection factory and the extra jobs are given to :class:`Service`.

SIGTERM/SIGINT set one event: the message in hand is finished, nothing new is started, and the
process exits well within 10 seconds.
"""
from __future__ import annotations

import datetime as dt
import logging
import signal
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from avsteg.config.settings import Settings
from avsteg.domain.errors import TransientError
from avsteg.domain.localtime import TIMEZONE
from avsteg.ingest.ports import Mailbox
from avsteg.services.worker import PollReport, Worker

log = logging.getLogger("avsteg.service")

IDLE_SLICE_SECONDS = 5.0  # how long one IDLE wait lasts before the stop flag is looked at


class Service:
    """The poll job, the IDLE watcher and any extra scheduled jobs, until told to stop."""

    def __init__(self, settings: Settings, worker: Worker,
                 watcher_factory: Callable[[], Mailbox] | None = None,
                 extra_jobs: Callable[[Any], object] | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self.stop = worker.stop
        self._watcher_factory = watcher_factory
        self._extra_jobs = extra_jobs
        self.polls = 0

    def poll(self) -> PollReport | None:
        if self.stop.is_set():
            return None
        try:
            report = self.worker.poll_once()
            self.polls += 1
            return report
        except TransientError as exc:
            log.warning("poll failed, will try again: %s", exc)
        except Exception:
            log.exception("poll crashed; will try again at the next interval")
        return None

    def install_signal_handlers(self) -> None:
        def _stop(signum, _frame):
            log.info("signal %s: finishing the current message, then exiting", signum)
            self.stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run_forever(self) -> None:
        scheduler = BackgroundScheduler(timezone=TIMEZONE)
        scheduler.add_job(
            self.poll, "interval", seconds=self.settings.worker.poll_interval_seconds, id="poll",
            max_instances=1, coalesce=True, next_run_time=dt.datetime.now(dt.UTC),
            misfire_grace_time=None,
        )
        if self._extra_jobs is not None:
            self._extra_jobs(scheduler)
        scheduler.start()
        log.info("worker started (poll every %ss, idle=%s)",
                 self.settings.worker.poll_interval_seconds, self.settings.worker.idle)
        try:
            if self.settings.worker.idle and self._watcher_factory is not None:
                self._watch(scheduler)
            else:
                self.stop.wait()
        finally:
            scheduler.shutdown(wait=True)  # the poll in hand stops after its current message
            log.info("worker stopped")

    def _watch(self, scheduler: Any) -> None:
        """Wait in IDLE on a connection of its own; bring the poll forward on news."""
        assert self._watcher_factory is not None
        watcher: Mailbox | None = None
        while not self.stop.is_set():
            try:
                if watcher is None:
                    watcher = self._watcher_factory()
                    watcher.open()
                if watcher.wait_for_news(IDLE_SLICE_SECONDS):
                    scheduler.modify_job("poll", next_run_time=dt.datetime.now(dt.UTC))
            except TransientError as exc:
                log.warning("IDLE connection lost (%s); reconnecting", exc)
                _close(watcher)
                watcher = None
                self.stop.wait(2.0)
        _close(watcher)


def _close(mailbox) -> None:
    if mailbox is None:
        return
    try:
        mailbox.close()
    except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
        pass


def run_service(service: Service) -> None:
    """Run until SIGTERM/SIGINT: the poll job, the IDLE watcher and the scheduled jobs."""
    service.install_signal_handlers()
    service.run_forever()
