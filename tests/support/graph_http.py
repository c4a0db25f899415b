"""The HTTP side of the Graph test server: Entra ID's token endpoint and Graph v1.0 routes.

Written from Microsoft's documentation for exactly the endpoints avsteg uses; see graph_server.py
for what is covered and graph_mailstore.py for the state it works on.
"""
from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import re
import secrets
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.support.graph_ca import assertion_ok
from tests.support.graph_mailstore import (
    GRAPH_SCOPE,
    Fault,
    Folder,
    GraphServer,
    Message,
    internet_message_id,
)

__all__ = ["GraphHTTPServer", "Handler", "Fault"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stalls
    server: GraphHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass

    # every verb goes through one place
    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        g = self.server.graph
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = unquote(parts.path)
        drop_after = False
        with g.lock:
            for fault in g.faults:
                if fault.count > 0 and (fault.method in (None, method)) and fault.pattern.search(path):
                    fault.count -= 1
                    if fault.kind == "revoke":
                        g.tokens.clear()  # this request's token too: it will be refused
                        break
                    if fault.kind == "drop-after":
                        drop_after = True
                        break
                    if fault.kind == "drop":
                        g.requests.append((method, path, 0))
                        self.close_connection = True
                        return  # closed without a byte of answer
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    if not path.startswith("/v1.0/"):  # Entra ID's own error shape (OAuth 2.0)
                        return self._send(method, path, fault.status, {
                            "error": "temporarily_unavailable",
                            "error_description": "AADSTS50196: The server terminated an operation "
                                                 "because it encountered a client request loop.",
                            "error_codes": [50196]}, headers)
                    code = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(fault.status, "Fault")
                    return self._error(method, path, fault.status, code, "Injected fault.", headers)
        try:
            if path.startswith("/v1.0/"):
                self._graph(method, path[len("/v1.0/"):])
            else:
                self._identity(method, path)
        except _Answer as answer:
            if drop_after:  # carried out, but the answer never leaves
                with g.lock:
                    g.requests.append((method, path, 0))
                self.close_connection = True
                return
            self._send(method, path, answer.status, answer.body, answer.headers)

    def _send(self, method: str, path: str, status: int, body: Any,
              headers: dict[str, str] | None = None) -> None:
        g = self.server.graph
        with g.lock:
            g.requests.append((method, path, status))
        if isinstance(body, bytes | bytearray):
            data, ctype = bytes(body), "text/plain"
        elif body is None:
            data, ctype = b"", None
        else:
            data, ctype = json.dumps(body).encode(), "application/json; odata.metadata=minimal"
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", secrets.token_hex(8))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, method: str, path: str, status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        self._send(method, path, status, {"error": {"code": code, "message": message,
                                                    "innerError": {"request-id": secrets.token_hex(8)}}},
                   headers)

    # -- Entra ID ----------------------------------------------------------------------------
    def _identity(self, method: str, path: str) -> None:
        g = self.server.graph
        m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
        if m and method == "GET":
            tenant = m.group(1)
            base = f"{g.url}/{tenant}"
            raise _Answer(200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{g.url}/{g.app.tenant_id}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
            })
        m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
        if m and method == "POST":
            self._token(m.group(1))
        raise _Answer(404, {"error": "not_found", "error_description": f"no {path}"})

    def _token(self, tenant: str) -> None:
        g = self.server.graph
        form = {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

        def refuse(status: int, error: str, description: str) -> None:
            raise _Answer(status, {"error": error, "error_description": description,
                                   "error_codes": [int(description[6:description.index(":")])],
                                   "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                                   "trace_id": secrets.token_hex(8),
                                   "correlation_id": secrets.token_hex(8)})

        if tenant != g.app.tenant_id:
            refuse(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            refuse(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        if form.get("client_id") != g.app.client_id:
            refuse(400, "unauthorized_client",
                   f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found "
                   f"in the directory.")
        if "client_assertion" in form:
            if not assertion_ok(form["client_assertion"], g.app.certificate, g.app.client_id):
                refuse(401, "invalid_client", "AADSTS700027: Client assertion failed signature validation.")
        elif not g.app.client_secret or form.get("client_secret") != g.app.client_secret:
            refuse(401, "invalid_client",
                   f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                   f"the request is the client secret value, not the client secret ID, for a secret "
                   f"added to app '{g.app.client_id}'.")
        if form.get("scope") != GRAPH_SCOPE:
            refuse(400, "invalid_scope",
                   f"AADSTS1002012: The provided value for scope {form.get('scope')} is not valid.")
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(32)
        with g.lock:
            g.tokens[token] = time.time() + g.token_lifetime
        raise _Answer(200, {"token_type": "Bearer", "expires_in": g.token_lifetime,
                            "ext_expires_in": g.token_lifetime, "access_token": token})

    # -- Graph -------------------------------------------------------------------------------
    def _graph(self, method: str, rest: str) -> None:
        g = self.server.graph
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        with g.lock:
            expiry = g.tokens.get(token)
        if not token or expiry is None or expiry < time.time():
            raise _Answer(401, {"error": {"code": "InvalidAuthenticationToken",
                                          "message": "Access token is empty." if not token else
                                          "Lifetime validation failed, the token is expired."}})
        m = re.fullmatch(r"users/([^/]+)/(.*)", rest)
        if not m:
            raise _Answer(400, {"error": {"code": "BadRequest", "message": f"Unsupported: {rest}"}})
        user, tail = m.group(1), m.group(2)
        if user.lower() != g.app.mailbox.lower():
            # RBAC for Applications: outside the management scope the app is simply denied.
            raise _Answer(403, {"error": {"code": "ErrorAccessDenied",
                                          "message": "Access is denied. Check credentials and try again."}})
        immutable = any('idtype="immutableid"' in v.replace(" ", "").lower()
                        for v in self.headers.get_all("Prefer") or [])
        with g.lock:
            self._route(method, tail, immutable)

    def _need(self, permission: str) -> None:
        perms = self.server.graph.app.permissions
        if permission not in perms and not (permission == "Mail.Read" and "Mail.ReadWrite" in perms):
            raise _Answer(403, {"error": {"code": "ErrorAccessDenied",
                                          "message": "Access is denied. Check credentials and try again."}})

    def _route(self, method: str, tail: str, immutable: bool) -> None:
        g = self.server.graph
        if tail == "sendMail" and method == "POST":
            self._need("Mail.Send")
            return self._send_mail()
        m = re.fullmatch(r"mailFolders(?:/([^/]+)(?:/(childFolders|messages/delta|messages))?)?", tail)
        if m:
            ref, sub = m.group(1), m.group(2)
            parent = None
            if ref is not None:
                parent = g.folder_by_ref(ref)
                if parent is None:
                    raise _Answer(404, {"error": {"code": "ErrorItemNotFound",
                                                  "message": "The specified object was not found in the store."}})
            if sub == "messages" and method == "GET":
                self._need("Mail.Read")
                assert parent is not None
                return self._list_messages(parent, immutable)
            if sub == "messages/delta" and method == "GET":
                self._need("Mail.Read")
                assert parent is not None
                return self._delta(parent, immutable)
            if ref is not None and sub is None and method == "GET":
                self._need("Mail.Read")
                assert parent is not None
                raise _Answer(200, self._folder_json(parent))
            if ref is None or sub == "childFolders":
                parent_id = parent.id if parent else None
                if method == "GET":
                    self._need("Mail.Read")
                    return self._list_folders(parent_id)
                if method == "POST":
                    self._need("Mail.ReadWrite")
                    return self._create_folder(parent_id)
        m = re.fullmatch(r"messages/([^/]+)(/\$value|/move)?", tail)
        if m:
            msg = g.message_by_ref(m.group(1))
            if msg is None:
                raise _Answer(404, {"error": {"code": "ErrorItemNotFound",
                                              "message": "The specified object was not found in the store."}})
            if m.group(2) == "/$value" and method == "GET":
                self._need("Mail.Read")
                raise _Answer(200, msg.raw)  # reading MIME does not change isRead
            if m.group(2) == "/move" and method == "POST":
                self._need("Mail.ReadWrite")
                return self._move(msg, immutable)
            if m.group(2) is None and method == "PATCH":
                self._need("Mail.ReadWrite")
                changes = json.loads(self.body or b"{}")
                if "isRead" in changes:
                    msg.is_read = bool(changes["isRead"])
                    msg.seq = g.next_seq()
                raise _Answer(200, self._message_json(msg, immutable, None))
        raise _Answer(400, {"error": {"code": "BadRequest",
                                      "message": f"Unsupported request: {method} {tail}"}})

    def _folder_json(self, f: Folder) -> dict[str, Any]:
        g = self.server.graph
        inside = [m for m in g.messages.values() if m.folder == f.id]
        return {"id": f.id, "displayName": f.name,
                "parentFolderId": f.parent or "AAMkAGVmMDEzRoot",
                "childFolderCount": sum(1 for c in g.folders.values() if c.parent == f.id),
                "unreadItemCount": sum(1 for m in inside if not m.is_read),
                "totalItemCount": len(inside), "isHidden": False}

    def _list_folders(self, parent: str | None) -> None:
        g = self.server.graph
        children = [f for f in g.folders.values() if f.parent == parent]
        top = min(int(self.query.get("$top", 10)), 10)  # small pages on purpose
        skip = int(self.query.get("$skip", 0))
        page = children[skip:skip + top]
        body: dict[str, Any] = {"value": [self._folder_json(f) for f in page]}
        if skip + top < len(children):
            base = self.path.split("?", 1)[0]
            body["@odata.nextLink"] = f"{g.url}{base}?$top={top}&$skip={skip + top}"
        raise _Answer(200, body)

    def _create_folder(self, parent: str | None) -> None:
        g = self.server.graph
        name = str(json.loads(self.body or b"{}").get("displayName") or "").strip()
        if not name:
            raise _Answer(400, {"error": {"code": "ErrorInvalidRequest", "message": "displayName is required."}})
        if any(f.parent == parent and f.name.lower() == name.lower() for f in g.folders.values()):
            raise _Answer(409, {"error": {"code": "ErrorFolderExists",
                                          "message": "A folder with the specified name already exists."}})
        raise _Answer(201, self._folder_json(g._add_folder(name, parent)))

    def _message_json(self, m: Message, immutable: bool, select: str | None) -> dict[str, Any]:
        full = {"@odata.type": "#microsoft.graph.message",
                "@odata.etag": f'W/"CQAAABYAAAB{m.seq}"',
                "id": m.immutable_id if immutable else m.rest_id,
                "isRead": m.is_read, "receivedDateTime": m.received,
                "internetMessageId": m.internet_message_id,
                "parentFolderId": m.folder}
        if select:
            keep = {"id", "@odata.type", "@odata.etag", *select.split(",")}
            full = {k: v for k, v in full.items() if k in keep}
        return full

    def _list_messages(self, folder: Folder, immutable: bool) -> None:
        """``GET …/messages`` with the one filter clients use here: ``internetMessageId eq '…'``."""
        g = self.server.graph
        found = [m for m in g.messages.values() if m.folder == folder.id]
        flt = self.query.get("$filter")
        if flt is not None:
            m = re.fullmatch(r"internetMessageId eq '((?:[^']|'')*)'", flt.strip())
            if m is None:
                raise _Answer(400, {"error": {"code": "ErrorInvalidUrlQueryFilter",
                                              "message": "Unsupported filter."}})
            wanted = m.group(1).replace("''", "'")
            found = [x for x in found if x.internet_message_id == wanted]
        top = int(self.query.get("$top", 10))
        raise _Answer(200, {"value": [self._message_json(x, immutable, self.query.get("$select"))
                                      for x in found[:top]]})

    def _move(self, msg: Message, immutable: bool) -> None:
        g = self.server.graph
        dest = g.folder_by_ref(str(json.loads(self.body or b"{}").get("destinationId") or ""))
        if dest is None:
            raise _Answer(400, {"error": {"code": "ErrorInvalidIdMalformed",
                                          "message": "Id is malformed."}})
        seq = g.next_seq()
        g.removals.append((msg.folder, msg.immutable_id, msg.rest_id, seq))
        msg.folder, msg.rest_id, msg.seq = dest.id, g._rest_id(), seq
        raise _Answer(201, self._message_json(msg, immutable, None))

    def _delta(self, folder: Folder, immutable: bool) -> None:
        """One page of a delta round. A round is computed when it starts (from nothing, or from
        a delta token) and handed out in pages; what changes meanwhile is in the next round."""
        g = self.server.graph
        prefer = ",".join(self.headers.get_all("Prefer") or [])
        m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        size = min(int(m.group(1)) if m else 10, g.max_page_size)
        base = f"{g.url}/v1.0/users/{quote(g.app.mailbox)}/mailFolders/{folder.id}/messages/delta"
        skip = self.query.get("$skiptoken")
        if skip is not None:
            state = g.rounds.get(skip)
            if state is None:
                raise _Answer(400, {"error": {"code": "ErrorInvalidUrlQuery", "message": "Bad $skiptoken."}})
        else:
            since, select = 0, self.query.get("$select")
            delta = self.query.get("$deltatoken")
            if delta is not None:
                known = g.delta_tokens.get(delta)
                if known is None or known[0] != folder.id:
                    # Documented: an expired or unknown delta token answers 410 Gone. The body's
                    # code is our guess (the docs do not pin it); clients must not depend on it.
                    raise _Answer(410, {"error": {"code": "SyncStateNotFound",
                                                  "message": "The sync state generation is not found."}})
                _, since, select = known
            end = g.next_seq()
            items: list[tuple[str, Any]] = [
                ("msg", m_.immutable_id) for m_ in sorted(g.messages.values(), key=lambda x: x.seq)
                if m_.folder == folder.id and m_.seq > since]
            if since:  # the first round lists what is there; later ones also what left
                items += [("removed", (imm, rest)) for f_id, imm, rest, s in g.removals
                          if f_id == folder.id and since < s <= end]
            skip = secrets.token_urlsafe(12)
            state = {"items": items, "pos": 0, "end": end, "select": select}
            g.rounds[skip] = state
        chunk = state["items"][state["pos"]:state["pos"] + size]
        state["pos"] += len(chunk)
        value = []
        for kind, ref in chunk:
            if kind == "msg":
                msg = g.messages[ref]
                value.append(self._message_json(msg, immutable, state["select"]))
            else:
                imm, rest = ref
                value.append({"@odata.type": "#microsoft.graph.message",
                              "id": imm if immutable else rest, "@removed": {"reason": "deleted"}})
        body: dict[str, Any] = {"@odata.context": f"{g.url}/v1.0/$metadata#Collection(message)",
                                "value": value}
        if state["pos"] < len(state["items"]):
            g.rounds[skip] = state
            body["@odata.nextLink"] = f"{base}?$skiptoken={skip}"
        else:
            g.rounds.pop(skip, None)
            token = secrets.token_urlsafe(16)
            g.delta_tokens[token] = (folder.id, state["end"], state["select"])
            body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        raise _Answer(200, body)

    def _send_mail(self) -> None:
        g = self.server.graph
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            message = json.loads(self.body or b"{}").get("message") or {}
            if not any(message.get(k) for k in ("toRecipients", "ccRecipients", "bccRecipients")):
                raise _Answer(400, {"error": {"code": "ErrorInvalidRecipients",
                                              "message": "At least one recipient isn't valid."}})
            raise _Answer(400, {"error": {"code": "BadRequest",
                                          "message": "JSON messages are not supported by this test server."}})
        if ctype != "text/plain":
            raise _Answer(415, {"error": {"code": "UnsupportedMediaType", "message": ctype}})
        try:
            raw = base64.b64decode(self.body, validate=True)
        except (binascii.Error, ValueError):
            raise _Answer(400, {"error": {"code": "ErrorMimeContentInvalidBase64String",
                                          "message": "Invalid base64 string for MIME content."}}) from None
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if not any(msg.get(h) for h in ("To", "Cc", "Bcc")):
            raise _Answer(400, {"error": {"code": "ErrorInvalidRecipients",
                                          "message": "At least one recipient isn't valid."}})
        g.sent.append(raw)
        sent_items = g.folder_by_ref("sentitems")
        assert sent_items is not None
        copy_id = "sent" + secrets.token_urlsafe(16)
        g.messages[copy_id] = Message(
            copy_id, g._rest_id(), sent_items.id, raw, True,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), g.next_seq(), internet_message_id(raw))
        raise _Answer(202, None)


class _Answer(Exception):  # noqa: N818 - control flow inside the handler only
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers


class GraphHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    graph: GraphServer

