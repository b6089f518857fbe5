"""``passeport node ...``: initialise, serve and administer a node.

``passeport/cli.py`` calls :func:`add_node_commands` with its sub-parsers; ``python -m node.cli``
runs the same commands stand-alone. Every command prints one line on stderr and returns a
non-zero code on failure; no traceback reaches the user.

Commands::

    node init  [--data DIR] [--name NAME] [--url URL] [--language LANG ...] [--admin-email E]
    node serve [--data DIR] [--host H] [--port P] [--tls-cert FILE --tls-key FILE]
    node token create --scope S [--scope S ...] [--name N] [--data DIR]
    node staff add EMAIL [--role admin|staff] [--data DIR]
    node keys rotate [--data DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .config import CONFIG_FILE, DEFAULT_DATA_DIR, DEFAULT_PORT, ConfigError, NodeConfig
from .keystore import KeystoreError

__all__ = ["EXIT_ERROR", "add_node_commands", "main"]

EXIT_OK = 0
EXIT_ERROR = 2
DEFAULT_HOST = "127.0.0.1"

log = logging.getLogger("passeport.node")


class NodeCliError(Exception):
    """A user-facing error of a node command (one line)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data) if args.data else DEFAULT_DATA_DIR


def _default_url(host: str, port: int, tls: bool) -> str:
    local = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::")  # noqa: S104 (a comparison)
    name = "localhost" if host in local else host
    return f"{'https' if tls else 'http'}://{name}:{port}"


def _load(data_dir: Path) -> NodeConfig:
    from .config import load_config

    return load_config(data_dir)


def _open_app(config: NodeConfig) -> Any:
    """The node app (services ready, keys checked), for administrative commands."""
    from .app import create_app
    from .appkeys import DB, SERVICES

    app = create_app(config)
    try:
        app[SERVICES]["identity"].keystore.check()
    except BaseException:
        app[DB].conn.close()
        raise
    return app


def _close(app: Any) -> None:
    from .appkeys import DB

    app[DB].conn.close()


# -- init ---------------------------------------------------------------------------------------


def _init(config: NodeConfig, admin_email: str | None) -> None:
    from .seed import init_node

    result = init_node(config, now=_now(), admin_email=admin_email)
    print(f"Initialised node {config.name!r} in {config.data_dir}")
    print(f"  public URL: {config.base_url}")
    print(f"  DID:        {result.did}")
    print(f"  samples:    {len(result.achievements)} achievements")
    print(result.login_message())


def cmd_init(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    url = args.url or _default_url(DEFAULT_HOST, DEFAULT_PORT, False)
    values: dict[str, Any] = {"public_url": url}
    if args.name:
        values["name"] = args.name
    if args.language:
        values["languages"] = tuple(dict.fromkeys(args.language))
    config = NodeConfig(data_dir=data_dir, **values).validate()
    _init(config, args.admin_email)
    return EXIT_OK


# -- serve --------------------------------------------------------------------------------------


def _ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise NodeCliError(f"cannot load the TLS certificate or key: {exc}") from None
    return context


#: aiohttp access-log format: time, request line, status, size, duration; no client address.
ACCESS_LOG_FORMAT = '%t "%r" %s %b %Tfs'


async def _run(app: Any, config: NodeConfig, ready: Callable[[str], None]) -> None:
    from aiohttp import web

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    context = None
    if config.tls_cert is not None and config.tls_key is not None:
        context = _ssl_context(config.tls_cert, config.tls_key)
    # The access log names no client address: who fetches a status list or a DID document is
    # nobody's business (specs/status.md, ST-13), and earners' addresses are personal data.
    runner = web.AppRunner(
        app, handle_signals=False, access_log=log, access_log_format=ACCESS_LOG_FORMAT
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            raise NodeCliError(
                f"cannot listen on {config.host}:{config.port} ({exc.strerror})"
            ) from None
        scheme = "https" if context else "http"
        ready(f"{scheme}://{config.host}:{config.port}")
        await stop.wait()
        print("Stopping...", flush=True)
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    from .app import create_app
    from .appkeys import SERVICES

    data_dir = _data_dir(args)
    tls = bool(args.tls_cert or args.tls_key)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise NodeCliError("--tls-cert and --tls-key go together")
    host = args.host or DEFAULT_HOST
    port = args.port or DEFAULT_PORT
    first_start = not (data_dir / CONFIG_FILE).exists()
    if first_start:
        config = NodeConfig(data_dir=data_dir, public_url=_default_url(host, port, tls))
        _init(config, None)
    config = _load(data_dir).with_overrides(
        host=args.host,
        port=args.port,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
    )
    config.validate()
    public = urlsplit(config.public_url)
    if public.hostname == "localhost" and (public.port or 80) != config.port:
        print(
            f"warning: the public URL {config.base_url} names another port than the one served "
            f"({config.port}); its did:web will not resolve here (set public_url in "
            f"{data_dir / CONFIG_FILE})",
            file=sys.stderr,
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(config)
    identity = app[SERVICES]["identity"]
    identity.ensure_keys(_now())  # refuses a missing, exposed or wrong master key

    def ready(listening: str) -> None:
        print(f"Passeport node {config.name!r} listening on {listening}", flush=True)
        print(f"  public URL: {config.base_url}   DID: {identity.default_issuer()}", flush=True)
        print(f"  staff pages: {config.base_url}/staff/login", flush=True)
        if not first_start:
            print(
                "  (log in with the admin account printed by 'passeport node init'; "
                "add one with 'passeport node staff add EMAIL --role admin')",
                flush=True,
            )
        print("Press Ctrl+C to stop.", flush=True)

    asyncio.run(_run(app, config, ready))
    return EXIT_OK


# -- admin --------------------------------------------------------------------------------------


def cmd_token_create(args: argparse.Namespace) -> int:
    from .appkeys import SERVICES

    app = _open_app(_load(_data_dir(args)))
    try:
        try:
            token_id, token = app[SERVICES]["auth"].create_token(
                args.scope, name=args.name, now=_now()
            )
        except ValueError as exc:
            raise NodeCliError(str(exc)) from None
    finally:
        _close(app)
    print(f"API token {token_id} ({', '.join(sorted(set(args.scope)))}), shown only once:")
    print(token)
    return EXIT_OK


def cmd_staff_add(args: argparse.Namespace) -> int:
    from .appkeys import SERVICES

    password = secrets.token_urlsafe(18)
    config = _load(_data_dir(args))
    app = _open_app(config)
    try:
        try:
            app[SERVICES]["auth"].create_staff(args.email, password, role=args.role, now=_now())
        except ValueError as exc:
            raise NodeCliError(str(exc)) from None
    finally:
        _close(app)
    print(f"Staff account created ({args.role}). Log in at {config.base_url}/staff/login with")
    print(f"  e-mail:   {args.email.strip().lower()}")
    print(f"  password: {password}")
    print("This password is shown only once.")
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from .appkeys import SERVICES

    app = _open_app(_load(_data_dir(args)))
    try:
        identity = app[SERVICES]["identity"]
        created = identity.rotate(_now())
        names = [identity.method_id(r) for r in created]
    finally:
        _close(app)
    print("New signing keys (the previous ones stay in the DID document):")
    for name in names:
        print(f"  {name}")
    return EXIT_OK


# -- parser -------------------------------------------------------------------------------------


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn every failure into one line on stderr and a non-zero exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (NodeCliError, ConfigError, KeystoreError) as exc:
            message = str(exc)
        except ValueError as exc:  # invalid option values caught by config validation
            message = str(exc)
        except KeyboardInterrupt:
            print("passeport: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            from protocol.errors import ProtocolError

            if isinstance(exc, ProtocolError):
                message = exc.message
            elif isinstance(exc, OSError):
                message = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
            else:
                log.debug("node command failed", exc_info=True)
                message = f"unexpected error ({type(exc).__name__}: {exc})"
        print(f"passeport: error: {message}", file=sys.stderr)
        return EXIT_ERROR

    return run


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value


def add_node_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``node`` and its commands to an ``add_subparsers()`` object; returns its parser."""
    node: argparse.ArgumentParser = subparsers.add_parser(
        "node", help="run and administer a member node"
    )
    parser_class = type(node)
    sub = node.add_subparsers(dest="node_command", metavar="ACTION", parser_class=parser_class)
    sub.required = True

    def data_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", metavar="DIR", help=f"data folder (default {DEFAULT_DATA_DIR})")

    init = sub.add_parser("init", help="create a node's data folder")
    data_option(init)
    init.add_argument("--name", help="organisation name")
    init.add_argument("--url", help="public base URL (default http://localhost:8400)")
    init.add_argument(
        "--language",
        action="append",
        metavar="LANG",
        help="issuing language (BCP 47), repeat for more; the first is the default",
    )
    init.add_argument("--admin-email", metavar="E", help="first admin's e-mail address")
    init.set_defaults(func=_guarded(cmd_init))

    serve = sub.add_parser("serve", help="run the node (initialising the folder if needed)")
    data_option(serve)
    serve.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=_port, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--tls-cert", metavar="FILE", help="TLS certificate chain (PEM)")
    serve.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    serve.set_defaults(func=_guarded(cmd_serve))

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(
        dest="token_command", metavar="ACTION", parser_class=parser_class
    )
    token_sub.required = True
    create = token_sub.add_parser("create", help="create an API token (printed once)")
    data_option(create)
    create.add_argument("--scope", action="append", required=True, metavar="S")
    create.add_argument("--name", default="cli token")
    create.set_defaults(func=_guarded(cmd_token_create))

    staff = sub.add_parser("staff", help="staff accounts")
    staff_sub = staff.add_subparsers(
        dest="staff_command", metavar="ACTION", parser_class=parser_class
    )
    staff_sub.required = True
    add = staff_sub.add_parser("add", help="add a staff account (password printed once)")
    data_option(add)
    add.add_argument("email")
    add.add_argument("--role", choices=("admin", "staff"), default="staff")
    add.set_defaults(func=_guarded(cmd_staff_add))

    keys = sub.add_parser("keys", help="signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", parser_class=parser_class)
    keys_sub.required = True
    rotate = keys_sub.add_parser("rotate", help="new signing keys; old ones stay published")
    data_option(rotate)
    rotate.set_defaults(func=_guarded(cmd_keys_rotate))
    return node


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"passeport: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m node.cli node ...`` (the same commands as ``passeport node ...``)."""
    parser = _Parser(prog="passeport")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    add_node_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
