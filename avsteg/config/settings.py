"""Typed settings: a TOML file (``--config``) overlaid by ``AVSTEG_<SECTION>__<KEY>`` variables.

Built once by the composition root and passed explicitly; nothing reads settings at import time.
"""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from avsteg.config.strict import SETTINGS_PREFIX as PREFIX
from avsteg.config.strict import (
    database_url_problem,
    describe_errors,
    join_problems,
    unknown_keys,
    unknown_variables,
)
from avsteg.domain.errors import ConfigurationError


def _list_from_text(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string from an environment variable."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class _Section(BaseModel):
    """A settings section: a key it does not know is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ImapSettings(_Section):
    host: str | None = None
    port: int | None = None  # default: 993 with ssl, 143 without
    username: str | None = None
    password: str | None = None
    ssl: bool = True
    starttls: bool = False  # upgrade a plain connection (used when ssl is false)
    folder: str = "INBOX"
    processed_folder: str | None = None
    rejected_folder: str | None = None
    sent_folder: str | None = None
    processed_keyword: str = "AvstegProcessed"
    rejected_keyword: str = "AvstegRejected"
    auth: Literal["password", "xoauth2"] = "password"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    authority: str | None = None  # default https://login.microsoftonline.com/<tenant_id>
    oauth_scope: str = "https://outlook.office365.com/.default"
    timeout_seconds: float = 60.0
    batch_size: int = 50
    batch_bytes: int = 32 * 1024 * 1024  # message bytes per FETCH; a larger message goes alone
    account: str | None = None  # ledger key; default username@host

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.ssl else 143)


class MailboxSettings(_Section):
    transport: Literal["imap", "graph"] = "imap"  # graph: read, file and answer via Microsoft Graph


class GraphSettings(_Section):
    """Microsoft Graph, app-only (client credentials): spec section 6."""

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None  # or a certificate (below)
    certificate_path: str | None = None  # PEM file: the private key (and its certificate)
    certificate_thumbprint: str | None = None  # SHA-1 hex; default: taken from the PEM's certificate
    certificate_password: str | None = None  # when the PEM's private key is encrypted
    mailbox: str | None = None  # the shared mailbox, e.g. socialhansyn@ink.goteborg.se
    folder: str = "Inbox"
    processed_folder: str | None = None  # e.g. "Avsteg/Registrerade"; made when missing
    rejected_folder: str | None = None  # e.g. "Avsteg/Ej registrerade"; made when missing
    base_url: str = "https://graph.microsoft.com/v1.0"
    authority: str = "https://login.microsoftonline.com"
    scope: str = "https://graph.microsoft.com/.default"  # national clouds: their Graph host
    timeout_seconds: float = 60.0
    page_size: int = 50  # delta page size asked for (Prefer: odata.maxpagesize)
    max_retries: int = 6  # attempts per request through 429/5xx/dropped connections
    max_wait_seconds: float = 120.0  # longest single wait (Retry-After is capped to this)
    account: str | None = None  # ledger key; default graph:<mailbox>


class SmtpSettings(_Section):
    host: str | None = None
    port: int | None = None  # default: 465 with ssl, 587 with starttls, else 25
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    starttls: bool = True
    auth: Literal["password", "xoauth2", "none"] = "password"
    timeout_seconds: float = 60.0
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    retry_seconds: float = 5.0  # during an SMTP outage, probe every 5 s (up to 15 s) between polls

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 465 if self.ssl else (587 if self.starttls else 25)


class DatabaseSettings(_Section):
    url: str = "sqlite:///avsteg.sqlite"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PolicySettings(_Section):
    service_address: str = "socialhansyn@ink.goteborg.se"
    service_name: str = "Stödfunktionen för social hänsyn i upphandling"
    allowed_sender_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["goteborg.se"]
    )
    replies_per_sender_per_hour: int = 10
    # Set aside (never register or answer) mail whose Authentication-Results from our receiving
    # side says dmarc=fail / compauth=fail; see domain/triage.py spoofing_suspected.
    trust_authentication_results: bool = True
    authserv_id: str | None = None  # only headers with this authserv-id; default: the topmost one
    convert_legacy: bool = False  # convert .doc/.xls/.odt/.ods with LibreOffice instead of asking for .docx/.xlsx
    max_message_bytes: int = 40 * 1024 * 1024
    max_attachment_bytes: int = 25 * 1024 * 1024
    # Spec 3, first start: a message older than this when first seen is registered, never answered.
    reply_window_days: int = Field(default=7, ge=0)
    # Spec 3, pending: a rejected report with no correction after this many days waits for a person.
    remind_rejected_after_days: int = Field(default=14, ge=1)

    _split = field_validator("allowed_sender_domains", mode="before")(
        lambda cls, v: _list_from_text(v)
    )


class WorkerSettings(_Section):
    poll_interval_seconds: float = 60.0
    idle: bool = True
    idle_renew_seconds: float = 25 * 60
    send_replies: bool = True
    lease_seconds: float = 120.0
    log_format: Literal["text", "json"] = "text"
    outbox_dir: str | None = None  # write replies here instead of SMTP (demo, tests)


class SchedulesSettings(_Section):
    digest_address: str | None = None  # weekly digest; off when empty
    digest_day_of_week: str = "mon"
    digest_hour: int = 7
    reminders: bool = False
    first_reminder: str = "12-01"  # MM-DD
    second_reminder: str = "12-15"


class WebSettings(BaseModel):
    """``avsteg web``: the stödfunktion's web app."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Signs the session cookie. Unset: a random key per start (everyone signs in again after a
    # restart); set it (AVSTEG_WEB__SECRET_KEY) when the app runs behind a load balancer or
    # should keep sessions over restarts.
    secret_key: str | None = None
    session_hours: float = 8.0  # a session ends this long after sign-in
    session_idle_minutes: float = 60.0  # … or this long after its last request
    # Behind a reverse proxy that terminates HTTPS: believe its X-Forwarded-Proto/-For, so
    # cookies get the Secure flag and the sign-in limit counts the real client address. Never
    # turn this on when clients can reach the app directly.
    trust_proxy_headers: bool = False
    secure_cookies: bool = False  # always mark cookies Secure (the app itself is served over HTTPS)
    login_attempts: int = 5  # failed sign-ins per name and address within login_window_seconds
    login_window_seconds: float = 900.0
    page_size: int = 50  # rows per page in Registret
    # Sign-in with Microsoft Entra ID (OpenID Connect, authorization code + PKCE). On when
    # oidc_client_id and oidc_tenant_id (or oidc_metadata_url) are set; local accounts still work.
    oidc_tenant_id: str | None = None  # the directory (tenant) id of the app registration
    # Another OpenID provider (or a national cloud): its .well-known/openid-configuration URL.
    oidc_metadata_url: str | None = None
    oidc_client_id: str | None = None  # the app registration's application (client) id
    oidc_client_secret: str | None = None  # prefer AVSTEG_WEB__OIDC_CLIENT_SECRET
    # The app roles (their "value") that make a user handläggare or läsare; neither: refused.
    oidc_role_handlaggare: str = "Avsteg.Handlaggare"
    oidc_role_lasare: str = "Avsteg.Lasare"
    # The redirect URI registered in Entra ID. Unset: https://HOST/auth/callback as the browser
    # reached the app (behind a proxy that needs trust_proxy_headers for the https scheme).
    oidc_redirect_uri: str | None = None
    oidc_state_seconds: int = 600  # how long a sign-in may take at Microsoft before it is refused

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_client_id and (self.oidc_tenant_id or self.oidc_metadata_url))

    @property
    def oidc_metadata(self) -> str | None:
        """The provider's discovery document: the tenant's v2.0 one unless another is given."""
        if self.oidc_metadata_url:
            return self.oidc_metadata_url
        if self.oidc_tenant_id:
            return (f"https://login.microsoftonline.com/{self.oidc_tenant_id}"
                    "/v2.0/.well-known/openid-configuration")
        return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AVSTEG_", env_nested_delimiter="__", extra="ignore", case_sensitive=False
    )

    mailbox: MailboxSettings = Field(default_factory=MailboxSettings)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    schedules: SchedulesSettings = Field(default_factory=SchedulesSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    schema_file: str | None = None  # a modified template schema; default: the packaged one

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: AVSTEG_… variables win over the TOML file (passed as init values).
        return (env_settings, init_settings)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``config_file`` (TOML) and the environment; environment wins.

    ``AVSTEG_CONFIG`` names the file when ``config_file`` is not given. Every problem (unknown
    keys with the nearest valid one, wrong types, bad database URLs) is collected into one
    :class:`ConfigurationError`, so a person fixes them all in one go.
    """
    path = config_file or os.environ.get("AVSTEG_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigurationError(f"config file {path} does not exist") from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc
    problems = unknown_keys(Settings, data, str(path)) + unknown_variables(Settings, os.environ)
    for section, values in overrides.items():
        if isinstance(values, dict):
            existing = data.get(section)
            data[section] = {**(existing if isinstance(existing, dict) else {}), **values}
        else:
            data[section] = values
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems += describe_errors(exc.errors(), str(path) if path else None)
        settings = None
    except SettingsError as exc:  # an environment variable pydantic-settings could not decode
        problems.append(str(exc))
        settings = None
    if problems or settings is None:
        raise ConfigurationError(join_problems(problems))
    return settings


def missing_for_mail(settings: Settings, *, replies: bool = True) -> list[str]:
    """Every setting the mailbox worker needs and does not have (all at once, not one by one)."""
    if settings.mailbox.transport == "graph":
        graph = settings.graph
        missing = [name for name in ("graph.tenant_id", "graph.client_id", "graph.mailbox")
                   if not _value(settings, name)]
        if not (graph.client_secret or graph.certificate_path):
            missing.append("graph.client_secret")  # or graph.certificate_path
        return missing
    imap, smtp = settings.imap, settings.smtp
    needed = ["imap.host", "imap.username"]
    if imap.auth == "password":
        needed.append("imap.password")
    oauth = imap.auth == "xoauth2" or (replies and smtp.auth == "xoauth2")
    if oauth:
        needed += ["imap.tenant_id", "imap.client_id", "imap.client_secret"]
    if replies and settings.worker.send_replies and not settings.worker.outbox_dir:
        needed.append("smtp.host")
        if smtp.auth == "xoauth2":
            needed.append("smtp.username")
        elif smtp.auth == "password" and smtp.username:
            needed.append("smtp.password")
    return [name for name in needed if not _value(settings, name)]


def _value(settings: Settings, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return getattr(getattr(settings, section), key)


def require_mail_settings(settings: Settings, *, replies: bool = True) -> None:
    """Raise one ConfigurationError naming every missing setting (and its variable)."""
    missing = missing_for_mail(settings, replies=replies)
    if missing:
        names = ", ".join(
            f"{name} ({PREFIX}{name.replace('.', '__').upper()})" for name in missing)
        raise ConfigurationError(f"missing settings: {names}")
