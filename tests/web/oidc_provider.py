"""A real OpenID Connect provider for the Entra ID sign-in tests: panva/oidc-provider under node.

``tests/web/oidc_provider/server.mjs`` configures it as an Entra ID app registration would be
(a confidential client, PKCE required, app roles in the ID token's ``roles`` claim); scripts/test
installs it (``npm ci --prefix tests/web/oidc_provider``). Missing node or the package fails the
test in CI (AVSTEG_REQUIRE_SERVERS=1) and skips it elsewhere.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.net import wait_for_port
from tests.support.require import missing, need

HERE = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "avsteg-web-test"
CLIENT_SECRET = "test-client-secret-" + "y" * 24
ROLE_CASEWORKER = "Avsteg.Handlaggare"
ROLE_READER = "Avsteg.Lasare"
# Signing in at the provider's development form: any of these user names (password ignored).
USERS = {
    "anna": {"name": "Anna Entra", "roles": [ROLE_CASEWORKER]},
    "lars": {"name": "Lars Entra", "roles": [ROLE_READER]},
    "nils": {"name": "Nils Utan Roll", "roles": ["Ett.Annat.Program"]},
}


@dataclass(frozen=True)
class Provider:
    issuer: str

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


def _node() -> str:
    node = need("node", "runs the test OpenID provider (apt-get install nodejs npm)")
    if not (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
        missing("the test OpenID provider is not installed: "
                "npm ci --prefix tests/web/oidc_provider")
    return node


@contextmanager
def oidc_provider(port: int, redirect_uris: list[str], log: Path) -> Iterator[Provider]:
    """oidc-provider on 127.0.0.1:``port`` with our client and :data:`USERS`, stopped after."""
    node = _node()
    config = {"port": port, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "redirect_uris": redirect_uris, "users": USERS}
    with log.open("wb") as out:
        proc = subprocess.Popen([node, str(HERE / "server.mjs"), json.dumps(config)],
                                cwd=HERE, stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                wait_for_port(port, timeout=30, alive=lambda: proc.poll() is None)
            except OSError:
                pytest.fail(f"oidc-provider did not start: {log.read_text(errors='replace')}")
            yield Provider(f"http://127.0.0.1:{port}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
