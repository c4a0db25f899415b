"""``avsteg run``: the worker as a long-running service, or one poll for cron/systemd timers.

APScheduler runs the poll as an interval job (``max_instances=1``, coalescing, so a slow poll is
never run twice at once and missed runs collapse into one). With ``worker.idle`` a second IMAP
connection waits in IDLE and, when the server reports new mail, brings the next poll forward to
now: new mail is answered within a second or two instead of at the next interval. Exchange
Online drops idle connections; the IDLE watcher reconnects and carries on.

Everything it runs is built by the composition root (:mod:`avsteg.bootstrap`): the worker, the
IDLE watcher's connection factory and the extra jobs are given to :class:`Service`.

Connection and login failures back off (``avsteg.domain.backoff``): doubling from 5 s (60 s for
a refused login) up to an hour, shared by the poll and the IDLE watcher.

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
from avsteg.domain.backoff import Backoff
from avsteg.domain.errors import LoginRefusedError, TransientError
from avsteg.domain.localtime import TIMEZONE
from avsteg.ingest.ports import Mailbox
from avsteg.services.worker import PollReport, Worker

log = logging.getLogger("avsteg.service")

IDLE_SLICE_SECONDS = 5.0  # how long one IDLE wait lasts before the stop flag is looked at


class Service:
    """The poll job, the IDLE watcher and any extra scheduled jobs, until told to stop."""

    def __init__(self, settings: Settings, worker: Worker,
                 watcher_factory: Callable[[], Mailbox] | None = None,
                 extra_jobs: Callable[[Any], object] | None = None,
                 backoff: Backoff | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self.stop = worker.stop
        self._watcher_factory = watcher_factory
        self._extra_jobs = extra_jobs
        self.polls = 0
        # One gate for the poll and the IDLE watcher: while either fails to connect or log in,
        # neither tries again before the backoff allows (a steady retry locks the account).
        self.backoff = backoff or Backoff()

    def poll(self) -> PollReport | None:
        if self.stop.is_set() or self.backoff.remaining() > 0:
            return None
        try:
            report = self.worker.poll_once()
            self.polls += 1
            self.backoff.succeeded()
            return report
        except LoginRefusedError as exc:
            self._failed(exc, login_refused=True)
        except TransientError as exc:
            self._failed(exc, login_refused=False)
        except Exception:
            log.exception("poll crashed; will try again at the next interval")
        return None

    def _failed(self, exc: Exception, *, login_refused: bool) -> None:
        delay = self.backoff.failed(login_refused=login_refused)
        log.warning("%s; next attempt in %.0f s (failure %d in a row)", exc, delay,
                    self.backoff.failures,
                    extra={"event": "backoff", "retry_in_seconds": round(delay, 1),
                           "failures": self.backoff.failures, "login_refused": login_refused})

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
            if watcher is None and self.backoff.remaining() > 0:
                self.stop.wait(min(self.backoff.remaining(), IDLE_SLICE_SECONDS))
                continue
            try:
                if watcher is None:
                    watcher = self._watcher_factory()
                    watcher.open()
                if watcher.wait_for_news(IDLE_SLICE_SECONDS):
                    scheduler.modify_job("poll", next_run_time=dt.datetime.now(dt.UTC))
            except (TransientError, LoginRefusedError) as exc:
                _close(watcher)
                watcher = None
                self._failed(exc, login_refused=isinstance(exc, LoginRefusedError))
                if self.backoff.remaining() <= 0:  # only with a zero backoff (tests)
                    self.stop.wait(0.1)
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
