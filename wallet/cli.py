"""``passeport wallet [--wallet PATH] ACTION``: the earner's wallet on the command line.

Wire it into a top-level parser with :func:`add_wallet_commands` (``passeport wallet ...``), or
run it alone with :func:`main` (``python -m wallet.cli ...``).

The passphrase comes from ``PASSEPORT_WALLET_PASSPHRASE`` (scripts) or a prompt. Passphrase
changes read the new one from ``PASSEPORT_WALLET_NEW_PASSPHRASE`` or a prompt; backups and
restores read the backup passphrase from ``PASSEPORT_WALLET_BACKUP_PASSPHRASE`` or a prompt
(and reuse the wallet passphrase when neither is available). The wallet file is ``--wallet``,
else ``PASSEPORT_WALLET``, else ``~/.passeport/wallet.ppw``.

Every failure prints one line on stderr and exits non-zero, without a traceback: 1 when a
verification is not valid, 2 for unusable input, a wrong passphrase, a damaged or busy wallet.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from protocol.encoding import parse_json
from protocol.errors import ProtocolError
from protocol.keys import Algorithm
from protocol.timeutil import parse_datetime

from .errors import WalletError
from .sealing import DEFAULT_KDF, KdfParams

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "add_wallet_commands", "build_parser", "main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

ENV_PASSPHRASE = "PASSEPORT_WALLET_PASSPHRASE"  # noqa: S105 - a variable name
ENV_NEW_PASSPHRASE = "PASSEPORT_WALLET_NEW_PASSPHRASE"  # noqa: S105
ENV_BACKUP_PASSPHRASE = "PASSEPORT_WALLET_BACKUP_PASSPHRASE"  # noqa: S105
ENV_WALLET = "PASSEPORT_WALLET"


class CliError(Exception):
    """A user-facing error: one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- helpers -----------------------------------------------------------------------------------


def _wallet_path(args: argparse.Namespace) -> Path:
    chosen = getattr(args, "wallet", None) or os.environ.get(ENV_WALLET)
    if chosen:
        return Path(chosen).expanduser()
    return Path.home() / ".passeport" / "wallet.ppw"


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise CliError(f"no passphrase: set {ENV_PASSPHRASE} or run in a terminal")
    try:
        return getpass.getpass(label)
    except EOFError:
        raise CliError("no passphrase given") from None


def _passphrase(*, confirm: bool = False) -> str:
    value = os.environ.get(ENV_PASSPHRASE)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"no passphrase: set {ENV_PASSPHRASE} or run in a terminal")
    return _new_secret("Wallet passphrase: ") if confirm else _prompt("Wallet passphrase: ")


def _new_secret(label: str) -> str:
    first = _prompt(label)
    if not first:
        raise CliError("the passphrase must not be empty")
    if _prompt("Repeat: ") != first:
        raise CliError("the two passphrases differ")
    return first


def _backup_passphrase(fallback: Callable[[], str]) -> str:
    value = os.environ.get(ENV_BACKUP_PASSPHRASE)
    if value:
        return value
    if sys.stdin.isatty():
        typed = getpass.getpass("Backup passphrase (Enter to reuse the wallet passphrase): ")
        if typed:
            return typed
    return fallback()


def _kdf(args: argparse.Namespace) -> KdfParams:
    ops = getattr(args, "kdf_opslimit", None)
    mem = getattr(args, "kdf_memlimit_kib", None)
    if ops is None and mem is None:
        return DEFAULT_KDF
    try:
        params = KdfParams(
            ops if ops is not None else DEFAULT_KDF.opslimit,
            mem * 1024 if mem is not None else DEFAULT_KDF.memlimit,
        )
    except ValueError as exc:
        raise CliError(f"Argon2id parameters: {exc}") from None
    if params.weaker_than_default:
        print(
            f"passeport wallet: warning: {params.describe()} is cheaper than the default "
            f"({DEFAULT_KDF.describe()}); the passphrase is easier to guess from a stolen file",
            file=sys.stderr,
        )
    return params


def _now(args: argparse.Namespace) -> datetime:
    at = getattr(args, "at", None)
    if at:
        try:
            return parse_datetime(at, what="--at", require_timezone=False)
        except ProtocolError as exc:
            raise CliError(exc.message) from None
    return datetime.now(UTC)


def _date(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    if len(text) == 10:
        text += "T00:00:00Z"
    try:
        return parse_datetime(text, what=option, require_timezone=False)
    except ProtocolError as exc:
        raise CliError(exc.message) from None


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, a few lines otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total <= 1:
            return
        if self.tty:
            end = "\n" if done >= total else ""
            print(f"\r{stage}: {done}/{total}", end=end, file=self.stream, flush=True)
            return
        step = max(1, total // 10)
        last = self._last.get(stage, -step)
        if done >= total or done - last >= step:
            self._last[stage] = done
            print(f"{stage}: {done}/{total}", file=self.stream, flush=True)


def _open(args: argparse.Namespace, *, readonly: bool = False) -> Any:
    from .store import Wallet

    path = _wallet_path(args)
    if not path.exists():
        raise CliError(f"{path}: no wallet here (create one with 'passeport wallet init')")
    return Wallet.open(path, _passphrase(), readonly=readonly, progress=_Progress())


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _read_json_file(name: str) -> Any:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise CliError(f"{name}: no such file") from None
    except OSError as exc:
        raise CliError(f"{name}: cannot read ({exc.strerror})") from None
    try:
        return parse_json(data)
    except ProtocolError as exc:
        raise CliError(f"{name}: {exc.message}") from None


def _materials(args: argparse.Namespace) -> Any:
    from .importing import Materials

    materials = Materials()
    for name in getattr(args, "did_document", None) or []:
        document = _read_json_file(name)
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise CliError(f"{name}: a DID or controller document is a JSON object with an id")
        materials.did_documents[document["id"]] = document
    for name in getattr(args, "key", None) or []:
        kind = materials.add_file(name)
        if kind != "key":
            raise CliError(f"{name}: not a key file")
    for name in getattr(args, "document", None) or []:
        materials.add_file(name)
    return materials


def _short_date(text: str | None) -> str:
    return (text or "")[:10] or "-"


def _row(record: Any) -> str:
    issuer = record.issuer_name or record.issuer or "?"
    kind = {"ob2": " [OB 2.0]", "endorsement": " [endorsement]", "vc": " [VC]"}.get(record.kind, "")
    tags = f"  #{' #'.join(record.tags)}" if record.tags else ""
    return (
        f"{record.local_id[:8]}  {record.status:<8} {_short_date(record.issued)}  "
        f"{record.name}{kind} -- {issuer}{tags}"
    )


def _record_json(record: Any, *, full: bool = False) -> dict[str, Any]:
    out = {
        "localId": record.local_id,
        "id": record.id,
        "kind": record.kind,
        "format": record.format,
        "name": record.name,
        "issuer": record.issuer,
        "issuerName": record.issuer_name,
        "issued": record.issued,
        "validUntil": record.valid_until,
        "status": record.status,
        "tags": record.tags,
    }
    if full:
        out["source"] = record.source
        out["added"] = record.added
        if record.endorsements:
            out["endorsements"] = record.endorsements
        if record.endorses:
            out["endorses"] = record.endorses
        if record.selfmade:
            out["selfmade"] = record.selfmade
    return {k: v for k, v in out.items() if v is not None}


# -- actions -----------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from .store import Wallet

    path = _wallet_path(args)
    if path.exists():
        raise CliError(f"{path}: a wallet already exists; not replacing it")
    algorithm: Algorithm = "Ed25519" if args.algorithm == "ed25519" else "P-256"
    wallet = Wallet.create(
        path, _passphrase(confirm=True), kdf=_kdf(args), identity_algorithm=algorithm
    )
    with wallet:
        identity = wallet.default_identity
    print(f"created {path}")
    print(f"holder identity: {identity.did}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as wallet:
        counts: dict[str, int] = {}
        for record in wallet:
            counts[record.kind] = counts.get(record.kind, 0) + 1
        info = {
            "path": str(wallet.path),
            "kdf": wallet.kdf.describe(),
            "credentials": len(wallet),
            "byKind": counts,
            "identities": [i.to_dict(secret=False) for i in wallet.identities()],
            "collections": len(wallet.collections),
            "pathways": len(wallet.pathways),
            "created": wallet.created,
            "updated": wallet.updated,
        }
    if args.json:
        _print_json(info)
    else:
        print(f"wallet: {info['path']} ({info['kdf']})")
        print(f"credentials: {info['credentials']} {counts if counts else ''}".rstrip())
        print(
            f"identities: {len(info['identities'])}, collections: {info['collections']}, "
            f"pathways: {info['pathways']}"
        )
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from .importing import import_files, iter_paths

    paths = iter_paths(args.files)
    if not paths:
        raise CliError("no file to import")
    materials = _materials(args)
    now = _now(args)
    with _open(args) as wallet:
        outcomes = import_files(wallet, paths, now=now, materials=materials, progress=_Progress())
        if any(o.outcome in ("added", "replaced") for o in outcomes) or wallet.changed:
            wallet.save()
    if args.json:
        _print_json([o.to_dict() for o in outcomes])
    else:
        for outcome in outcomes:
            prefix = f"{outcome.source}: " if len(paths) > 1 or outcome.outcome == "refused" else ""
            print(
                f"{prefix}{outcome.message}"
                if outcome.outcome != "refused"
                else f"{prefix}refused: {outcome.message}"
            )
    refused = [o for o in outcomes if o.outcome == "refused"]
    if refused and len(refused) == len(outcomes):
        return EXIT_USAGE
    return EXIT_INVALID if refused else EXIT_OK


def _query(args: argparse.Namespace) -> Any:
    from .organise import Query

    try:
        return Query(
            text=" ".join(args.text) if args.text else None,
            issuer=args.issuer,
            skill=args.skill,
            since=_date(args.since, "--since"),
            until=_date(args.until, "--until"),
            status=args.status,
            tag=args.tag,
            collection=args.collection,
            kind=args.kind,
            achievement=args.achievement,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None


def cmd_list(args: argparse.Namespace) -> int:
    query = _query(args)
    with _open(args, readonly=True) as wallet:
        records = wallet.search(query, now=datetime.now(UTC))
        if args.limit is not None:
            records = records[: args.limit]
        if args.json:
            _print_json([_record_json(r) for r in records])
        else:
            for record in records:
                print(_row(record))
            if not records:
                print(
                    "no credential matches" if len(wallet) else "the wallet is empty",
                    file=sys.stderr,
                )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as wallet:
        record = wallet.get(args.id)
        if args.json:
            out = _record_json(record, full=True)
            out["summary"] = record.summary
            out["verification"] = record.verification
            if record.legacy:
                out["legacy"] = record.legacy
            out["credential"] = record.document if record.format == "json" else record.text
            if record.format == "jwt":
                out["decoded"] = record.document
            _print_json(out)
            return EXIT_OK
        s = record.summary
        print(f"{record.name}  ({record.local_id})")
        print(f"  kind: {record.kind} ({record.format}), status: {record.status}")
        if record.id:
            print(f"  id: {record.id}")
        issuer = s.get("issuer_name")
        print(f"  issuer: {issuer + ' ' if issuer else ''}<{s.get('issuer', '?')}>")
        achievement = s.get("achievement", {})
        if achievement:
            print(f"  achievement: {achievement.get('name', '')} <{achievement.get('id', '')}>")
            if achievement.get("description"):
                print(f"    {achievement['description']}")
        for alignment in s.get("alignments", []):
            code = f" [{alignment['code']}]" if "code" in alignment else ""
            print(f"  skill: {alignment.get('name', '')}{code} {alignment.get('url', '')}")
        print(
            f"  issued: {s.get('issued', '-')}"
            + (f", valid until {s['valid_until']}" if s.get("valid_until") else "")
        )
        if record.tags:
            print(f"  tags: {', '.join(record.tags)}")
        print(f"  source: {record.source}, added {record.added}, verified {record.verified_at}")
        for check in record.verification.get("checks", []):
            print(f"  [{check.get('status')}] {check.get('check')}: {check.get('reason')}")
        if record.verification.get("walletNote"):
            print(f"  note: {record.verification['walletNote']}")
        if record.legacy:
            print("  legacy Open Badges 2.0: not checked offline:")
            for line in record.legacy.get("notChecked", []):
                print(f"    - {line}")
        for lid in record.endorsements:
            endorsement = wallet.get(lid)
            comment = endorsement.summary.get("comment")
            who = endorsement.summary.get("issuer_name") or endorsement.summary.get("issuer")
            print(
                f"  endorsed by {who} ({endorsement.status})" + (f": {comment}" if comment else "")
            )
        for report in record.verification.get("endorsements", []):
            print(f"  embedded endorsement {report.get('id')}: {report.get('verdict')}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .importing import reverify

    materials = _materials(args)
    now = _now(args)
    with _open(args) as wallet:
        records = [wallet.get(ref) for ref in args.ids] if args.ids else list(wallet)
        progress = _Progress()
        for n, record in enumerate(records):
            reverify(wallet, record, now=now, materials=materials)
            progress("verifying", n + 1, len(records))
        wallet.save()
        if args.json:
            _print_json([{**_record_json(r), "verification": r.verification} for r in records])
        else:
            for record in records:
                print(_row(record))
                for check in record.verification.get("checks", []):
                    if check.get("status") != "pass":
                        print(
                            f"    [{check.get('status')}] {check.get('check')}: "
                            f"{check.get('reason')}"
                        )
    return EXIT_OK if all(r.status == "valid" for r in records) else EXIT_INVALID


def cmd_bake(args: argparse.Namespace) -> int:
    from .baking import bake_png, bake_svg, default_png, default_svg, image_from_credential

    with _open(args, readonly=True) as wallet:
        record = wallet.get(args.id)
        if record.kind not in ("ob3", "endorsement"):
            raise CliError(
                "only Open Badges 3.0 credentials can be baked "
                f"(this one is {'an OB 2.0 assertion' if record.kind == 'ob2' else 'a plain VC'})"
            )
        payload = record.text.strip()
        if args.image:
            try:
                base = Path(args.image).read_bytes()
            except OSError as exc:
                raise CliError(f"{args.image}: cannot read ({exc.strerror})") from None
        else:
            own = image_from_credential(record.document, args.format)
            base = own or (
                default_png(record.name) if args.format == "png" else default_svg(record.name)
            )
        if args.format == "png":
            baked = bake_png(base, payload)
        else:
            baked = bake_svg(base, payload, jws=record.format == "jwt")
    out = Path(args.out)
    try:
        out.write_bytes(baked)
    except OSError as exc:
        raise CliError(f"{out}: cannot write ({exc.strerror})") from None
    print(f"baked {record.name!r} into {out}")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as wallet:
        passphrase = _backup_passphrase(_passphrase)
        wallet.backup(args.out, passphrase, kdf=_kdf(args))
        count = len(wallet)
    print(f"backed up {count} credential(s) to {args.out}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from .store import Wallet

    path = _wallet_path(args)
    if path.exists():
        raise CliError(f"{path}: a wallet already exists; restore into a new path (--wallet)")
    if not Path(args.backup).exists():
        raise CliError(f"{args.backup}: no such file")
    passphrase = _passphrase(confirm=True)
    backup_passphrase = _backup_passphrase(lambda: passphrase)
    with Wallet.restore(
        args.backup, path, passphrase, backup_passphrase=backup_passphrase, kdf=_kdf(args)
    ) as wallet:
        count = len(wallet)
    print(f"restored {count} credential(s) into {path}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as wallet:
        count = wallet.export_plain(args.out, metadata=args.metadata)
    print(
        f"exported {count} credential(s) to {args.out}"
        + (f" (metadata in {args.metadata})" if args.metadata else "")
    )
    return EXIT_OK


def cmd_passwd(args: argparse.Namespace) -> int:
    with _open(args) as wallet:
        old = _passphrase()
        new = os.environ.get(ENV_NEW_PASSPHRASE) or _new_secret("New passphrase: ")
        wallet.change_passphrase(old, new, kdf=_kdf(args))
    print("passphrase changed")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    with _open(args) as wallet:
        record = wallet.remove(args.id)
        wallet.save()
    print(f"removed {record.local_id[:8]} {record.name!r}")
    return EXIT_OK


def cmd_identity(args: argparse.Namespace) -> int:
    readonly = args.identity_action == "list"
    with _open(args, readonly=readonly) as wallet:
        if args.identity_action == "new":
            algorithm: Algorithm = "Ed25519" if args.algorithm == "ed25519" else "P-256"
            try:
                identity = wallet.new_identity(algorithm, args.label, make_default=args.default)
            except ValueError as exc:
                raise CliError(str(exc)) from None
            wallet.save()
            print(identity.did)
            return EXIT_OK
        if args.identity_action == "default":
            identity = wallet.set_default_identity(args.ref)
            wallet.save()
            print(f"default identity: {identity.did}")
            return EXIT_OK
        identities = wallet.identities()
        default = wallet.default_identity.did
        if args.json:
            _print_json(
                [{**i.to_dict(secret=False), "default": i.did == default} for i in identities]
            )
        else:
            for i in identities:
                mark = "*" if i.did == default else " "
                print(f"{mark} {i.did}  {i.algorithm}  {i.label or ''}".rstrip())
    return EXIT_OK


def cmd_tag(args: argparse.Namespace) -> int:
    from .organise import tag

    if not args.add and not args.remove:
        raise CliError("give tags to add, or --remove TAG")
    with _open(args) as wallet:
        try:
            record = tag(wallet, args.id, add=args.add, remove=args.remove or [])
        except ValueError as exc:
            raise CliError(str(exc)) from None
        wallet.save()
    print(f"{record.local_id[:8]} tags: {', '.join(record.tags) or '(none)'}")
    return EXIT_OK


def cmd_collection(args: argparse.Namespace) -> int:
    from . import organise

    action = args.collection_action
    with _open(args, readonly=action in ("list", "show")) as wallet:
        try:
            if action == "create":
                organise.create_collection(
                    wallet, args.name, description=args.description, now=datetime.now(UTC)
                )
            elif action == "add":
                organise.add_to_collection(wallet, args.name, args.ids)
            elif action == "remove":
                organise.remove_from_collection(wallet, args.name, args.ids)
            elif action == "delete":
                organise.delete_collection(wallet, args.name)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if action in ("create", "add", "remove", "delete"):
            wallet.save()
            print(f"collection {args.name!r}: {action} done")
            return EXIT_OK
        if action == "list":
            items = [
                {"name": c.name, "description": c.description, "count": len(c.members)}
                for c in wallet.collections.values()
            ]
            if args.json:
                _print_json(items)
            else:
                for item in items:
                    print(
                        f"{item['name']} ({item['count']})"
                        + (f" -- {item['description']}" if item["description"] else "")
                    )
            return EXIT_OK
        collection = wallet.collections.get(args.name)
        if collection is None:
            raise CliError(f"no collection named {args.name!r}")
        records = wallet.records_by_ids(collection.members)
        if args.json:
            _print_json({**collection.to_dict(), "credentials": [_record_json(r) for r in records]})
        else:
            print(
                collection.name
                + (f" -- {collection.description}" if collection.description else "")
            )
            for record in records:
                print("  " + _row(record))
    return EXIT_OK


def cmd_pathway(args: argparse.Namespace) -> int:
    from . import organise

    action = args.pathway_action
    with _open(args, readonly=action in ("list", "show")) as wallet:
        if action == "create":
            requirements: list[Any] = []
            if args.file:
                spec = _read_json_file(args.file)
                if not isinstance(spec, dict):
                    raise CliError(f"{args.file}: a pathway file is a JSON object")
                name = args.name or spec.get("name")
                requirements = list(spec.get("requirements", []))
                description = args.description or spec.get("description")
                required = args.required or spec.get("required")
            else:
                name, description, required = args.name, args.description, args.required
            requirements += [{"achievement": a} for a in args.achievement or []]
            requirements += [{"alignment": s} for s in args.skill or []]
            if not name:
                raise CliError("a pathway needs a name")
            try:
                pathway = organise.create_pathway(
                    wallet,
                    name,
                    requirements,
                    description=description,
                    required=required,
                    now=datetime.now(UTC),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise CliError(f"invalid pathway: {exc}") from None
            wallet.save()
            print(f"pathway {pathway.id} {pathway.name!r}: {len(pathway.requirements)} step(s)")
            return EXIT_OK
        if action == "delete":
            organise.delete_pathway(wallet, args.ref)
            wallet.save()
            print("pathway deleted")
            return EXIT_OK
        now = datetime.now(UTC)
        if action == "list":
            items = [organise.progress(wallet, p, now=now) for p in wallet.pathways.values()]
            if args.json:
                _print_json([p.to_dict() for p in items])
            else:
                for p in items:
                    print(
                        f"{p.pathway.id}  {p.pathway.name}: {p.met}/{p.needed} ({p.percent}%)"
                        + (" complete" if p.complete else "")
                    )
            return EXIT_OK
        result = organise.progress(wallet, organise.find_pathway(wallet, args.ref), now=now)
        if args.json:
            _print_json(result.to_dict())
        else:
            print(
                f"{result.pathway.name}: {result.met}/{result.needed} ({result.percent}%)"
                + (" -- complete" if result.complete else "")
            )
            for step in result.steps:
                mark = "x" if step.met else " "
                held = ", ".join(wallet.get(lid).name for lid in step.met_by)
                print(f"  [{mark}] {step.requirement.describe()}" + (f": {held}" if held else ""))
                for lid in step.not_valid:
                    record = wallet.get(lid)
                    print(f"      held but {record.status}: {record.name}")
    return EXIT_OK


def cmd_selfmade(args: argparse.Namespace) -> int:
    from . import selfmade

    now = _now(args)
    with _open(args) as wallet:
        try:
            if args.selfmade_action == "create":
                record = selfmade.create_selfmade(
                    wallet,
                    name=args.name,
                    description=args.description,
                    criteria=args.criteria,
                    now=now,
                    identity=args.identity,
                    issuer_name=args.issuer_name,
                    alignments=args.align or [],
                    achievement_type=args.type,
                    tags=args.tag or [],
                )
                wallet.save()
                print(f"self-made badge {record.local_id[:8]} {record.name!r}: {record.status}")
                return EXIT_OK
            if args.selfmade_action == "request":
                request = selfmade.endorsement_request(
                    wallet, args.id, now=now, about=args.about, message=args.message
                )
                wallet.save()
                text = json.dumps(request, ensure_ascii=False, indent=2) + "\n"
                if args.out == "-":
                    sys.stdout.write(text)
                else:
                    Path(args.out).write_text(text, encoding="utf-8")
                    print(f"endorsement request written to {args.out}")
                return EXIT_OK
            record = selfmade.reissue(wallet, args.id, now=now)
            wallet.save()
            print(
                f"re-issued {record.local_id[:8]} {record.name!r} with "
                f"{len(record.verification.get('endorsements', []))} endorsement(s): "
                f"{record.status}"
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
    return EXIT_OK


def cmd_endorse(args: argparse.Namespace) -> int:
    from . import selfmade

    request = _read_json_file(args.request)
    now = _now(args)
    with _open(args) as wallet:
        try:
            parsed = selfmade.parse_endorsement_request(request)
            print(parsed.describe(), file=sys.stderr)
            if parsed.message:
                print(f"message: {parsed.message}", file=sys.stderr)
            endorsement = selfmade.sign_endorsement(
                wallet,
                request,
                now=now,
                comment=args.comment,
                identity=args.identity,
                endorser_name=args.endorser_name,
                materials=_materials(args),
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
    text = json.dumps(endorsement, ensure_ascii=False, indent=2) + "\n"
    if args.out and args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"endorsement written to {args.out}; send it back to the requester")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _exchange(module: str, name: str) -> Callable[..., Any]:
    try:
        imported = __import__(f"wallet.{module}", fromlist=[name])
        function: Callable[..., Any] = getattr(imported, name)
    except (ImportError, AttributeError):
        raise CliError(f"'{name}' is not available in this version of the wallet") from None
    return function


def cmd_receive(args: argparse.Namespace) -> int:
    receive = _exchange("client", "receive")
    offer = args.offer
    if offer == "-":
        offer = sys.stdin.read().strip()
    with _open(args) as wallet:
        kwargs: dict[str, Any] = {"identity": args.identity, "now": _now(args)}
        kwargs["progress"] = lambda message: print(message, file=sys.stderr, flush=True)
        if args.tx_code:
            kwargs["tx_code"] = args.tx_code
        stored = receive(wallet, offer, **kwargs)
        if wallet.changed:
            wallet.save()
        if args.json:
            _print_json([_record_json(r) for r in stored])
        else:
            for record in stored:
                print(_row(record))
    return EXIT_OK if all(r.status == "valid" for r in stored) else EXIT_INVALID


def _confirm(plan: Any) -> bool:
    print(getattr(plan, "summary", str(plan)), file=sys.stderr)
    if not sys.stdin.isatty():
        raise CliError("run in a terminal to confirm, or pass --yes")
    answer = input("Share this? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _show_summary(plan: Any) -> bool:
    print(getattr(plan, "summary", str(plan)), file=sys.stderr)
    return True


def cmd_present(args: argparse.Namespace) -> int:
    now = _now(args)
    request = args.request
    if request == "-":
        request = sys.stdin.read().strip()
    with _open(args, readonly=True) as wallet:
        if request is None:
            if not args.credential:
                raise CliError("give a verifier's REQUEST, or --credential IDs for a file")
            make = _exchange("present", "make_presentation")
            result = make(
                wallet,
                [wallet.get(c).local_id for c in args.credential],
                now=now,
                identity=args.identity,
                challenge=args.challenge,
                domain=args.domain,
            )
        else:
            present = _exchange("present", "present")
            kwargs: dict[str, Any] = {
                "identity": args.identity,
                "select": _show_summary if args.yes else _confirm,
                "send": not args.no_send,
                "now": now,
            }
            if args.credential:
                kwargs["credentials"] = [wallet.get(c).local_id for c in args.credential]
            result = present(wallet, request, **kwargs)
    presentation = getattr(result, "presentation", None)
    if args.out:
        token = getattr(result, "vp_token", None)
        saved = presentation if presentation is not None else token
        if saved is None:
            raise CliError("nothing to save: the presentation was declined")
        Path(args.out).write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", "utf-8")
        print(f"presentation written to {args.out}", file=sys.stderr)
    if args.json:
        to_json = getattr(result, "to_json", None)
        _print_json(to_json() if callable(to_json) else presentation)
    else:
        if getattr(result, "declined", False):
            print("declined")
            return EXIT_INVALID
        if getattr(result, "sent", False):
            print("sent; verifier answered: " + json.dumps(getattr(result, "response", None)))
        elif not args.out:
            _print_json(presentation)
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CliError(message)


def _add_kdf_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kdf-opslimit",
        type=int,
        metavar="N",
        help=f"Argon2id passes (default {DEFAULT_KDF.opslimit}; lower is weaker)",
    )
    parser.add_argument(
        "--kdf-memlimit-kib",
        type=int,
        metavar="KIB",
        help=f"Argon2id memory in KiB (default {DEFAULT_KDF.memlimit // 1024}; lower is weaker)",
    )


def _add_materials_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--did-document",
        action="append",
        metavar="FILE",
        help="a DID or controller document to trust for issuer keys (repeatable)",
    )
    parser.add_argument(
        "--key",
        action="append",
        metavar="FILE",
        help="a public key file (OB 2.0 CryptographicKey, JWK, Multikey) (repeatable)",
    )
    parser.add_argument(
        "--document",
        action="append",
        metavar="FILE",
        help="an OB 2.0 badge class or issuer profile to use offline (repeatable)",
    )
    parser.add_argument("--at", help="verify as of this time (default: now)")


def _configure(
    wallet: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]
) -> None:
    wallet.add_argument(
        "--wallet",
        metavar="PATH",
        help=f"wallet file (default: ${ENV_WALLET} or ~/.passeport/wallet.ppw)",
    )
    sub = wallet.add_subparsers(dest="wallet_action", metavar="ACTION", parser_class=parser_class)
    sub.required = True

    p = sub.add_parser("init", help="create a wallet with a holder identity")
    p.add_argument("--algorithm", choices=["ed25519", "p256"], default="ed25519")
    _add_kdf_options(p)
    p.set_defaults(wallet_func=cmd_init)

    p = sub.add_parser("info", help="wallet file, key derivation, counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(wallet_func=cmd_info)

    p = sub.add_parser("import", help="import credentials, presentations and baked badges")
    p.add_argument("files", nargs="+", metavar="FILE", help="files or folders")
    p.add_argument("--json", action="store_true")
    _add_materials_options(p)
    p.set_defaults(wallet_func=cmd_import)

    p = sub.add_parser("list", help="list and search credentials")
    p.add_argument("text", nargs="*", help="words to look for")
    p.add_argument("--issuer", help="issuer id, or part of its name")
    p.add_argument("--skill", help="alignment URL (e.g. an ESCO URI), code, or part of a name")
    p.add_argument("--achievement", help="achievement id")
    p.add_argument("--since", metavar="DATE", help="issued on or after (YYYY-MM-DD or a time)")
    p.add_argument("--until", metavar="DATE", help="issued on or before")
    p.add_argument("--status", choices=["valid", "invalid", "unknown", "expired", "legacy"])
    p.add_argument("--tag")
    p.add_argument("--collection")
    p.add_argument("--kind", choices=["ob3", "vc", "endorsement", "ob2"])
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(wallet_func=cmd_list)

    p = sub.add_parser("show", help="show one credential and its verification")
    p.add_argument("id", help="wallet id (or its first characters) or credential id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(wallet_func=cmd_show)

    p = sub.add_parser("verify", help="verify credentials again and store the reports")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--json", action="store_true")
    _add_materials_options(p)
    p.set_defaults(wallet_func=cmd_verify)

    p = sub.add_parser("bake", help="bake an OB 3.0 credential into a PNG or SVG")
    p.add_argument("id")
    p.add_argument("--format", choices=["png", "svg"], required=True)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--image", metavar="BASE", help="image to bake into (default: the badge's own)")
    p.set_defaults(wallet_func=cmd_bake)

    p = sub.add_parser("backup", help="write an encrypted backup file")
    p.add_argument("out", metavar="OUT")
    _add_kdf_options(p)
    p.set_defaults(wallet_func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into a new wallet (--wallet)")
    p.add_argument("backup", metavar="BACKUP")
    _add_kdf_options(p)
    p.set_defaults(wallet_func=cmd_restore)

    p = sub.add_parser("export", help="export all credentials as plain JSON (unencrypted)")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--metadata", metavar="FILE", help="also write the wallet's metadata here")
    p.set_defaults(wallet_func=cmd_export)

    p = sub.add_parser("passwd", help="change the passphrase")
    _add_kdf_options(p)
    p.set_defaults(wallet_func=cmd_passwd)

    p = sub.add_parser("remove", help="delete a credential from the wallet")
    p.add_argument("id")
    p.set_defaults(wallet_func=cmd_remove)

    p = sub.add_parser("identity", help="holder identities (did:key)")
    isub = p.add_subparsers(dest="identity_action", metavar="ACTION", parser_class=parser_class)
    isub.required = True
    q = isub.add_parser("new", help="create an identity (e.g. pairwise for one verifier)")
    q.add_argument("--algorithm", choices=["ed25519", "p256"], default="ed25519")
    q.add_argument("--label")
    q.add_argument("--default", action="store_true", help="make it the default identity")
    q = isub.add_parser("list", help="list identities (* = default)")
    q.add_argument("--json", action="store_true")
    q = isub.add_parser("default", help="make an identity the default")
    q.add_argument("ref", metavar="DID_OR_LABEL")
    p.set_defaults(wallet_func=cmd_identity)

    p = sub.add_parser("tag", help="tag a credential")
    p.add_argument("id")
    p.add_argument("add", nargs="*", metavar="TAG")
    p.add_argument("--remove", action="append", metavar="TAG")
    p.set_defaults(wallet_func=cmd_tag)

    p = sub.add_parser("collection", help="named collections of credentials")
    csub = p.add_subparsers(dest="collection_action", metavar="ACTION", parser_class=parser_class)
    csub.required = True
    q = csub.add_parser("create")
    q.add_argument("name")
    q.add_argument("--description")
    for action in ("add", "remove"):
        q = csub.add_parser(action)
        q.add_argument("name")
        q.add_argument("ids", nargs="+", metavar="ID")
    q = csub.add_parser("delete")
    q.add_argument("name")
    q = csub.add_parser("list")
    q.add_argument("--json", action="store_true")
    q = csub.add_parser("show")
    q.add_argument("name")
    q.add_argument("--json", action="store_true")
    p.set_defaults(wallet_func=cmd_collection)

    p = sub.add_parser("pathway", help="goals made of achievements, with progress")
    psub = p.add_subparsers(dest="pathway_action", metavar="ACTION", parser_class=parser_class)
    psub.required = True
    q = psub.add_parser("create")
    q.add_argument("name", nargs="?")
    q.add_argument("--achievement", action="append", metavar="ID", help="a required achievement")
    q.add_argument("--skill", action="append", metavar="ALIGNMENT", help="a required skill")
    q.add_argument("--required", type=int, metavar="N", help="how many steps must be met")
    q.add_argument("--description")
    q.add_argument("--file", metavar="FILE", help="a pathway JSON file (specs/wallet.md)")
    q = psub.add_parser("list")
    q.add_argument("--json", action="store_true")
    q = psub.add_parser("show")
    q.add_argument("ref", metavar="ID_OR_NAME")
    q.add_argument("--json", action="store_true")
    q = psub.add_parser("delete")
    q.add_argument("ref", metavar="ID_OR_NAME")
    p.set_defaults(wallet_func=cmd_pathway)

    p = sub.add_parser("selfmade", help="self-made badges and endorsement requests")
    ssub = p.add_subparsers(dest="selfmade_action", metavar="ACTION", parser_class=parser_class)
    ssub.required = True
    q = ssub.add_parser("create", help="define an achievement and issue it to yourself")
    q.add_argument("--name", required=True)
    q.add_argument("--description", required=True)
    q.add_argument("--criteria", required=True)
    q.add_argument("--align", action="append", metavar="NAME|URL[|CODE]", help="a skill")
    q.add_argument("--type", help="achievementType (e.g. Competency)")
    q.add_argument("--identity", help="the identity to sign with (default: the default one)")
    q.add_argument("--issuer-name", help="your name as the issuer")
    q.add_argument("--tag", action="append")
    q.add_argument("--at", help=argparse.SUPPRESS)
    q = ssub.add_parser("request", help="write an endorsement request for a badge")
    q.add_argument("id")
    q.add_argument("--out", required=True, metavar="FILE")
    q.add_argument("--about", choices=["credential", "achievement"], default="credential")
    q.add_argument("--message")
    q.add_argument("--at", help=argparse.SUPPRESS)
    q = ssub.add_parser("reissue", help="re-issue a self-made badge with its endorsements")
    q.add_argument("id")
    q.add_argument("--at", help=argparse.SUPPRESS)
    p.set_defaults(wallet_func=cmd_selfmade)

    p = sub.add_parser("endorse", help="sign a peer's endorsement request")
    p.add_argument("request", metavar="REQUEST", help="the request file, or -")
    p.add_argument("--comment", help="your endorsement comment (Markdown)")
    p.add_argument("--identity", help="the identity to sign with")
    p.add_argument("--endorser-name", help="your name as the endorser")
    p.add_argument("--out", metavar="FILE", help="where to write the endorsement (default: stdout)")
    _add_materials_options(p)
    p.set_defaults(wallet_func=cmd_endorse)

    p = sub.add_parser("receive", help="claim a node's offer (OID4VCI or VC API)")
    p.add_argument("offer", metavar="OFFER", help="offer link or pasted QR payload, or -")
    p.add_argument("--identity", help="the identity to receive as")
    p.add_argument("--tx-code", help="the transaction code, when the offer needs one")
    p.add_argument("--json", action="store_true")
    p.add_argument("--at", help=argparse.SUPPRESS)
    p.set_defaults(wallet_func=cmd_receive)

    p = sub.add_parser("present", help="answer a verifier's request, or write a presentation")
    p.add_argument("request", metavar="REQUEST", nargs="?", help="request link or payload, or -")
    p.add_argument("--identity", help="the identity to present as")
    p.add_argument("--credential", action="append", metavar="ID", help="credential(s) to use")
    p.add_argument("--yes", action="store_true", help="do not ask before sharing")
    p.add_argument("--no-send", action="store_true", help="sign but do not send")
    p.add_argument("--out", metavar="FILE", help="save the signed presentation")
    p.add_argument("--challenge", help="(file presentations) the challenge to sign")
    p.add_argument("--domain", help="(file presentations) the domain to sign")
    p.add_argument("--json", action="store_true")
    p.add_argument("--at", help=argparse.SUPPRESS)
    p.set_defaults(wallet_func=cmd_present)


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``wallet`` action; print one-line errors, never a traceback."""
    try:
        return int(args.wallet_func(args))
    except CliError as exc:
        print(f"passeport wallet: error: {exc.message}", file=sys.stderr)
        return exc.code
    except WalletError as exc:
        print(f"passeport wallet: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except ProtocolError as exc:
        print(f"passeport wallet: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"passeport wallet: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"passeport wallet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug: still one line, but say so
        print(
            f"passeport wallet: error: internal error ({type(exc).__name__}: {exc}); "
            "please report it",
            file=sys.stderr,
        )
        return EXIT_USAGE


def add_wallet_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``wallet`` to a top-level parser's subparsers (``passeport wallet ...``).

    The action runs through ``args.func(args)`` and returns the exit code.
    """
    parser_class = getattr(subparsers, "_parser_class", _Parser)
    wallet: argparse.ArgumentParser = subparsers.add_parser(
        "wallet", help="the earner's wallet: import, organise, bake, back up, present"
    )
    _configure(wallet, parser_class)
    wallet.set_defaults(func=run)
    return wallet


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser: ``python -m wallet.cli ACTION ...`` (same as ``passeport wallet``)."""
    parser = _Parser(
        prog="passeport wallet", description=__doc__.splitlines()[0] if __doc__ else None
    )
    _configure(parser, _Parser)
    parser.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the wallet command line; return the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except CliError as exc:
        print(f"passeport wallet: error: {exc.message}", file=sys.stderr)
        return exc.code
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("passeport wallet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
