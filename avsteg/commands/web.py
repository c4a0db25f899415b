"""``avsteg web``: the stödfunktion's web app on the worker's database (spec 5)."""

from __future__ import annotations

import argparse

from avsteg.bootstrap import build_web_app, open_database
from avsteg.commands.common import add_db_argument, say, settings_from

HELP = "serve the web app (Registret, Att hantera, Sammanställning) on the register's database"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to listen on (default web.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default web.port, 8080)")
    add_db_argument(p)


def run(args: argparse.Namespace) -> int:
    import uvicorn  # only for this command

    settings = settings_from(args)
    host = args.host or settings.web.host
    port = args.port or settings.web.port
    db = open_database(settings, must_exist=True)  # a mistyped path must not serve an empty register
    try:
        app = build_web_app(settings, db)
        say(f"avsteg web: http://{host}:{port}/ (Ctrl+C avslutar)")
        # Proxy headers are handled by the app itself, and only when web.trust_proxy_headers.
        uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False,
                    log_level="info")
    finally:
        db.dispose()
    return 0
