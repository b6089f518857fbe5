"""Node configuration: read once at the edge into a frozen :class:`NodeConfig`.

A node's data folder holds ``node.toml`` (this configuration), ``node.db`` (SQLite) and
``master.key`` (the key that encrypts the signing keys at rest, unless the operator keeps it
elsewhere through ``PASSEPORT_NODE_MASTER_KEY_FILE``). Every limit is a named field with its unit.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_DATA_DIR",
    "ConfigError",
    "NodeConfig",
    "load_config",
    "write_config",
]

CONFIG_FILE = "node.toml"
#: Where ``passeport node init|serve`` keep their data when no ``--data`` is given.
DEFAULT_DATA_DIR = Path(".passeport") / "node"
DEFAULT_PORT = 8400


class ConfigError(Exception):
    """The configuration is missing, unreadable or invalid (one-line message)."""


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to know at start-up; passed down explicitly, never global."""

    data_dir: Path
    #: Organisation name, shown in issued credentials' issuer profile.
    name: str = "Passeport node"
    #: Public base URL of this node (scheme, host, port, optional path); the did:web is derived
    #: from it. On localhost the port is percent-encoded in the DID.
    public_url: str = f"http://localhost:{DEFAULT_PORT}"
    #: Languages the organisation issues in (BCP 47), the first is the default.
    languages: tuple[str, ...] = ("en",)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    #: Largest request body accepted on JSON endpoints, in bytes.
    max_body_bytes: int = 1024 * 1024
    #: Largest request body accepted on upload endpoints (evidence files, CSV), in bytes.
    max_upload_bytes: int = 16 * 1024 * 1024
    #: Origins (scheme://host[:port]) of federation peers: the only hosts this node fetches from,
    #: besides did:web hosts named by verifiers' requests when ``allow_did_web_fetch`` is set.
    peers: tuple[str, ...] = ()
    allow_did_web_fetch: bool = True
    #: Timeout of one outbound request, in seconds, and the largest response read, in bytes.
    fetch_timeout_seconds: float = 10.0
    fetch_max_bytes: int = 2 * 1024 * 1024
    #: Lifetime of a credential offer (OID4VCI pre-authorized code, exchange), in seconds.
    offer_ttl_seconds: int = 7 * 24 * 3600
    #: Lifetime of a staff session, in seconds.
    session_ttl_seconds: int = 8 * 3600
    #: Failed logins allowed per account and per client address within the window.
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    #: Entries in each Bitstring Status List (>= 131,072 as the spec requires).
    status_list_entries: int = 131_072
    #: Seconds a served status list may be cached by clients.
    status_list_max_age_seconds: int = 300
    #: Processes that sign credentials beside the event loop (0: sign in the loop's thread;
    #: ``None``: one more than the CPUs).
    signing_workers: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: File holding the master key (default: ``master.key`` in the data folder).
    master_key_file: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return self.data_dir / "node.db"

    @property
    def master_key_path(self) -> Path:
        """The file holding the key that encrypts signing keys at rest."""
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash."""
        return self.public_url.rstrip("/")

    def with_overrides(self, **changes: Any) -> NodeConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def validate(self) -> NodeConfig:
        """Raise :class:`ConfigError` on an unusable value; return ``self``."""
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"public_url {self.public_url!r} must be an http(s) URL with a host")
        if parts.query or parts.fragment:
            raise ConfigError("public_url must not have a query or a fragment")
        if not self.languages:
            raise ConfigError("languages must name at least one language")
        if self.status_list_entries < 131_072:
            raise ConfigError("status_list_entries must be at least 131072 (Bitstring Status List)")
        if self.signing_workers is not None and not 0 <= self.signing_workers <= 64:
            raise ConfigError("signing_workers must be between 0 and 64")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("tls_cert and tls_key go together")
        for peer in self.peers:
            p = urlsplit(peer)
            if p.scheme not in ("http", "https") or not p.hostname or p.path not in ("", "/"):
                raise ConfigError(f"peer {peer!r} must be an origin such as https://node.example")
        return self


_PATH_FIELDS = {"tls_cert", "tls_key", "master_key_file"}
_TUPLE_FIELDS = {"languages", "peers"}


def load_config(data_dir: Path) -> NodeConfig:
    """Read ``node.toml`` from ``data_dir``."""
    path = data_dir / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no node here (run 'passeport node init')") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    known = {f for f in NodeConfig.__dataclass_fields__ if f not in ("data_dir", "extra")}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            extra[key] = value
        elif key in _PATH_FIELDS:
            values[key] = Path(value)
        elif key in _TUPLE_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: {key} must be a list of strings")
            values[key] = tuple(value)
        else:
            values[key] = value
    try:
        config = NodeConfig(data_dir=data_dir, extra=extra, **values)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return config.validate()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def write_config(config: NodeConfig) -> Path:
    """Write ``node.toml`` (fields that differ from the defaults, plus name and URL)."""
    defaults = NodeConfig(data_dir=config.data_dir)
    lines = ["# Passeport node configuration (see README, 'Running a node')."]
    for key, value in asdict(config).items():
        if key in ("data_dir", "extra") or value is None:
            continue
        if key not in ("name", "public_url", "languages") and value == getattr(defaults, key):
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    path = config.data_dir / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", "utf-8")
    tmp.replace(path)
    return path
