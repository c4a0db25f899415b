"""A Microsoft Graph and Entra ID stand-in, over HTTPS on loopback, for exactly what avsteg uses.

Written from Microsoft's v1.0 documentation (and marked where the documentation leaves the
answer open): OpenID discovery and the token endpoint (client credentials with a secret or a
certificate assertion), ``mailFolders`` (+ ``childFolders``, create), ``messages/delta`` (small
pages, ``@odata.nextLink``, ``@odata.deltaLink``, ``@removed`` for what left the folder),
``$value``, ``move`` (a new id unless the request prefers immutable ids) and ``sendMail`` (MIME,
base64, ``text/plain``). Every Graph call needs a bearer token this server issued and that has
not expired; the app may only touch the one mailbox it is scoped to, with the permissions it was
given (RBAC for Applications). Faults can be injected: a status (429 with ``Retry-After``, 503,
…) for the next N matching requests, a dropped connection, and forgotten delta tokens (410).

Start it with :func:`start_graph_server` (or the ``graph_server`` fixture); ``server.environ()``
gives the ``AVSTEG_…`` variables and ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE`` (its own test CA)
for the process under test. The state and the test's controls are in graph_mailstore.py, the
HTTP routes in graph_http.py, the certificates in graph_ca.py.
"""
from __future__ import annotations

import secrets
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.graph_ca import make_test_ca
from tests.support.graph_http import GraphHTTPServer, Handler
from tests.support.graph_mailstore import App, GraphServer

__all__ = ["App", "GraphServer", "graph_server", "start_graph_server", "stop_graph_server"]


def start_graph_server(directory: Path | None = None, app: App | None = None,
                       **kwargs: Any) -> GraphServer:
    directory = directory or Path(tempfile.mkdtemp(prefix="avsteg-graph-"))
    ca = make_test_ca(directory)
    app = app or App(tenant_id="11111111-2222-3333-4444-555555555555",
                     client_id="66666666-7777-8888-9999-000000000000",
                     client_secret="test-secret~" + secrets.token_urlsafe(12),
                     mailbox="socialhansyn@ink.goteborg.se")
    server = GraphServer(ca, app, **kwargs)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca.cert_file, ca.key_file)
    httpd = GraphHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    httpd.graph = server
    server.httpd = httpd
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


def stop_graph_server(server: GraphServer) -> None:
    if server.httpd is not None:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def graph_server(tmp_path: Path) -> Iterator[GraphServer]:
    server = start_graph_server(tmp_path / "graph-ca")
    try:
        yield server
    finally:
        stop_graph_server(server)
