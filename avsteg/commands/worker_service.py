"""``avsteg run``: the worker as a long-running service, or one poll for cron/systemd timers.

One thread runs the polls, one after the other, and flushes the outbox between them. It polls
every ``worker.poll_interval_seconds``, and at once when *woken*: with ``worker.idle`` a second
IMAP connection waits in IDLE and wakes it when the server reports new mail. A wake-up is an
event that stays set: one that arrives while a poll runs causes another poll right after it,
so no wake-up is ever lost (an APScheduler job brought forward while it was running was simply
skipped: "maximum number of running instances reached"). Between polls the outbox gets its own
short schedule (``smtp.retry_seconds``) while an SMTP outage lasts, so queued replies leave
within seconds of its end. Exchange Online drops idle connections; the IDLE watcher reconnects
and carries on. APScheduler runs the other scheduled jobs (digest, reminders).

Everything it runs is built by the composition root (:mod:`avsteg.bootstrap`): the worker, the
IDLE watcher's connection factory and the extra jobs are given to :class:`Service`.

Connection and login failures back off (``avsteg.domain.backoff``): doubling from 5 s (60 s for
a refused login) up to an hour, shared by the poll and the IDLE watcher.

SIGTERM/SIGINT set one event: the message in hand is finished, nothing new is started, and the
process exits well within 10 seconds.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
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
    """The poll loop, the IDLE watcher and any extra scheduled jobs, until told to stop."""

    def __init__(self, settings: Settings, worker: Worker,
                 watcher_factory: Callable[[], Mailbox] | None = None,
                 extra_jobs: Callable[[Any], object] | None = None,
                 backoff: Backoff | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self.stop = worker.stop
        self.wake = threading.Event()  # set by the IDLE watcher; a poll follows, never skipped
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

    def flush_outbox(self) -> None:
        try:
            self.worker.flush_outbox()
        except TransientError as exc:
            log.warning("outbox flush failed, will try again: %s", exc)
        except Exception:
            log.exception("outbox flush crashed; will try again")

    def install_signal_handlers(self) -> None:
        def _stop(signum, _frame):
            log.info("signal %s: finishing the current message, then exiting", signum)
            self.stop.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run_loop(self) -> None:
        """Poll now, then whenever woken or the interval has passed; flush the outbox between."""
        interval = self.settings.worker.poll_interval_seconds
        outbox_every = max(min(self.settings.smtp.retry_seconds, interval), 0.05)
        next_poll = time.monotonic()
        while not self.stop.is_set():
            if self.wake.is_set() or time.monotonic() >= next_poll:
                self.wake.clear()  # before the poll: news during it sets it again
                next_poll = time.monotonic() + interval
                self.poll()
                continue  # woken meanwhile: poll again at once
            self.flush_outbox()
            timeout = max(min(next_poll - time.monotonic(), outbox_every), 0.0)
            self.wake.wait(timeout)

    def run_forever(self) -> None:
        scheduler = BackgroundScheduler(timezone=TIMEZONE)
        if self._extra_jobs is not None:
            self._extra_jobs(scheduler)
        scheduler.start()
        loop = threading.Thread(target=self.run_loop, name="avsteg-poll", daemon=True)
        loop.start()
        log.info("worker started (poll every %ss, idle=%s)",
                 self.settings.worker.poll_interval_seconds, self.settings.worker.idle)
        try:
            if self.settings.worker.idle and self._watcher_factory is not None:
                self._watch()
            else:
                self.stop.wait()
        finally:
            self.stop.set()
            self.wake.set()
            loop.join()  # the poll in hand stops after its current message
            scheduler.shutdown(wait=True)
            log.info("worker stopped")

    def _watch(self) -> None:
        """Wait in IDLE on a connection of its own; wake the poll loop on news."""
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
                    self.wake.set()  # anything that arrived while we were not watching
                if watcher.wait_for_news(IDLE_SLICE_SECONDS):
                    self.wake.set()
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
    """Run until SIGTERM/SIGINT: the poll loop, the IDLE watcher and the scheduled jobs."""
    service.install_signal_handlers()
    service.run_forever()
