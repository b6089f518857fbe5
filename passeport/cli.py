"""The ``passeport`` command.

Every failure prints one line on stderr and exits non-zero; no traceback reaches the user.
Exit codes: 0 success (for ``verify``: every document valid), 1 a document is invalid or its
status unknown, 2 unusable input or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from protocol.encoding import parse_json
from protocol.errors import ProtocolError

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing error: printed as one line, exit code attached."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _read_input(name: str) -> tuple[str, Any]:
    if name == "-":
        data = sys.stdin.buffer.read()
        label = "<stdin>"
    else:
        path = Path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CliError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise CliError(f"{name}: is a directory") from None
        except OSError as exc:
            raise CliError(f"{name}: cannot read ({exc.strerror})") from None
        label = name
    try:
        return label, parse_json(data)
    except ProtocolError as exc:
        raise CliError(f"{label}: {exc.message}") from None


def _parse_time(text: str, option: str) -> datetime:
    from protocol.timeutil import parse_datetime

    try:
        return parse_datetime(text, what=option, require_timezone=False)
    except ProtocolError as exc:
        raise CliError(exc.message) from None


def _now(args: argparse.Namespace) -> datetime:
    at = getattr(args, "at", None)
    return _parse_time(at, "--at") if at else datetime.now(UTC)


def _load_key(path: str) -> Any:
    from protocol.did import key_pair_as_did_key
    from protocol.keys import load_key_file

    _, doc = _read_input(path)
    if not isinstance(doc, dict):
        raise CliError(f"{path}: a key file is a JSON object")
    try:
        pair = load_key_file(doc)
    except ProtocolError as exc:
        raise CliError(f"{path}: {exc.message}") from None
    if pair.controller is None or pair.id is None:
        pair = key_pair_as_did_key(pair)
    return pair


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


# -- commands ----------------------------------------------------------------------------------


def cmd_keys_new(args: argparse.Namespace) -> int:
    from protocol.did import key_pair_as_did_key
    from protocol.keys import generate

    algorithm = {"ed25519": "Ed25519", "p256": "P-256", "p384": "P-384"}[args.type]
    pair = key_pair_as_did_key(generate(algorithm))  # type: ignore[arg-type]
    text = json.dumps(pair.to_key_file(), indent=2) + "\n"
    if args.out:
        out = Path(args.out)
        if out.exists() and not args.force:
            raise CliError(f"{out}: already exists (use --force to replace it)")
        _write_private(out, text)
        print(pair.controller)
    else:
        sys.stdout.write(text)
        print(pair.controller, file=sys.stderr)
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    from protocol.di import sign

    pair = _load_key(args.key)
    label, document = _read_input(args.input)
    if not isinstance(document, dict):
        raise CliError(f"{label}: a credential is a JSON object")
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id is None:
        raise CliError(f"{label}: the credential names no issuer")
    if issuer_id != pair.controller:
        raise CliError(
            f"{label}: the issuer is {issuer_id}, but the key belongs to {pair.controller}; "
            "a credential can only be signed by its issuer's key"
        )
    created = _parse_time(args.created, "--created") if args.created else datetime.now(UTC)
    try:
        if args.suite == "ecdsa-sd-2023":
            from protocol.di.ecdsa_sd_2023 import sign_base
            from protocol.ob.disclosure import mandatory_pointers

            pointers = (
                _pointers(args.mandatory, "--mandatory")
                if args.mandatory is not None
                else mandatory_pointers(document)
            )
            signed = sign_base(document, key=pair, created=created, mandatory_pointers=pointers)
        else:
            if args.mandatory is not None:
                raise CliError("--mandatory only applies to --suite ecdsa-sd-2023")
            signed = sign(document, key=pair, suite=args.suite, created=created)
    except ProtocolError as exc:
        raise CliError(f"{label}: {exc.message}") from None
    _print_json(signed)
    return EXIT_OK


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _pointers(text: str, option: str) -> list[str]:
    """Comma-separated JSON Pointers (an empty string means none)."""
    pointers = [p.strip() for p in text.split(",") if p.strip()]
    for pointer in pointers:
        if not pointer.startswith("/"):
            raise CliError(f"{option}: {pointer!r} is not a JSON Pointer (it must start with '/')")
    return pointers


def _has_base_proof(document: Any) -> bool:
    from protocol.di import all_proofs

    try:
        proofs = all_proofs(document)
    except ProtocolError:
        return False
    return any(
        p.get("cryptosuite") == "ecdsa-sd-2023"
        and isinstance(p.get("proofValue"), str)
        and p["proofValue"].startswith("u2V0A")
        for p in proofs
    )


def _derive(label: str, document: Any, reveal: list[str]) -> Any:
    from protocol.di.ecdsa_sd_2023 import derive

    try:
        return derive(document, selective_pointers=reveal)
    except ProtocolError as exc:
        raise CliError(f"{label}: {exc.message}") from None


def cmd_derive(args: argparse.Namespace) -> int:
    label, document = _read_input(args.input)
    if not isinstance(document, dict) or not _has_base_proof(document):
        raise CliError(
            f"{label}: the credential carries no ecdsa-sd-2023 base proof to derive from"
        )
    _print_json(_derive(label, document, _pointers(args.reveal, "--reveal")))
    return EXIT_OK


def cmd_present(args: argparse.Namespace) -> int:
    from protocol.presentation import build_presentation, sign_presentation

    pair = _load_key(args.key)
    reveal = _pointers(args.reveal, "--reveal") if args.reveal is not None else []
    credentials = []
    for name in args.credentials:
        label, document = _read_input(name)
        if not isinstance(document, dict):
            raise CliError(f"{label}: a credential is a JSON object")
        if _has_base_proof(document):
            # A base proof is for the holder only: present a derived disclosure instead.
            document = _derive(label, document, reveal)
        credentials.append(document)
    created = datetime.now(UTC)
    try:
        presentation = sign_presentation(
            build_presentation(holder=pair.controller, credentials=credentials),
            key=pair,
            challenge=args.challenge,
            domain=args.domain,
            created=created,
        )
    except ProtocolError as exc:
        raise CliError(exc.message) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _print_json(presentation)
    return EXIT_OK


def _resolver(args: argparse.Namespace) -> Any:
    from protocol.did import Resolver

    documents: dict[str, Any] = {}
    for name in args.did_document or []:
        label, doc = _read_input(name)
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            raise CliError(f"{label}: a DID or controller document is a JSON object with an id")
        documents[doc["id"]] = doc
    try:
        return Resolver(documents)
    except ProtocolError as exc:
        raise CliError(exc.message) from None


def _print_report(label: str, report: Any) -> None:
    mark = {"valid": "VALID", "invalid": "INVALID", "unknown": "UNKNOWN"}[report.verdict]
    what = report.kind
    print(f"{label}: {mark} {what}" + (f" {report.id}" if report.id else ""))
    if report.issuer:
        print(f"  issuer: {report.issuer}")
    if report.holder:
        print(f"  holder: {report.holder}")
    symbols = {"pass": "ok  ", "fail": "FAIL", "unknown": "??  "}
    for check in report.checks:
        print(f"  [{symbols[check.status]}] {check.check}: {check.reason}")
    for index, sub in enumerate(report.credentials):
        _print_report(f"  credential[{index}]", sub)


def cmd_verify(args: argparse.Namespace) -> int:
    from protocol.verify import verify

    if getattr(args, "bundle", None):
        return cmd_verify_with_bundle(args)
    now = _now(args)
    resolver = _resolver(args)
    inputs = args.inputs or ["-"]
    documents = [_read_input(name) for name in inputs]
    reports = []
    for label, document in documents:
        report = verify(
            document, now=now, resolver=resolver, challenge=args.challenge, domain=args.domain
        )
        reports.append((label, report))
    if args.json:
        out = []
        for label, report in reports:
            item = report.to_dict()
            item["source"] = label
            out.append(item)
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        for label, report in reports:
            _print_report(label, report)
    return EXIT_OK if all(r.verified for _, r in reports) else EXIT_INVALID


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    for line in run_demo(datetime.now(UTC)):
        print(line)
    return EXIT_OK


# -- federation: offline verification bundles (specs/federation.md section 9) -----------------

#: How old a bundle may be before statuses are reported unknown (``--bundle-max-age``).
DEFAULT_BUNDLE_MAX_AGE = "7d"
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration(text: str, option: str) -> Any:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` or plain seconds, as a ``timedelta``."""
    from datetime import timedelta

    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _DURATION_UNITS else "s"
    number = value[:-1] if value[-1:] in _DURATION_UNITS else value
    try:
        amount = float(number)
    except ValueError:
        raise CliError(f"{option}: {text!r} is not a duration (e.g. 7d, 12h, 30m)") from None
    if not amount > 0 or amount * _DURATION_UNITS[unit] > 10 * 365 * 86400:
        raise CliError(f"{option}: a duration is positive and at most ten years")
    return timedelta(seconds=amount * _DURATION_UNITS[unit])


def cmd_verifier_bundle(args: argparse.Namespace) -> int:
    """``passeport verifier bundle``: export a signed bundle from a node's data folder."""
    from node.config import DEFAULT_DATA_DIR, ConfigError
    from node.federation import export_bundle
    from node.problems import Problem

    data = Path(args.data) if args.data else DEFAULT_DATA_DIR
    try:
        bundle = export_bundle(data)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    except Problem as problem:
        raise CliError(f"{data}: {problem.detail}") from None
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(json.dumps(bundle, ensure_ascii=False), "utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise CliError(f"{out}: cannot write ({exc.strerror})") from None
    subject = bundle["registry"]["document"]["credentialSubject"]
    print(
        f"{out}: bundle of {subject['name']} (registry version {subject['registryVersion']}, "
        f"{len(bundle['didDocuments'])} DID documents, {len(bundle['statusLists'])} status "
        f"lists) made at {bundle['created']}"
    )
    return EXIT_OK


def _trust_anchors(values: Sequence[str]) -> list[Any]:
    """``--trust`` values: did:key DIDs, or files holding DID documents."""
    anchors: list[Any] = []
    for value in values:
        if value.startswith("did:key:"):
            anchors.append(value)
            continue
        label, document = _read_input(value)
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise CliError(f"{label}: a trust anchor is a DID document (a JSON object with an id)")
        anchors.append(document)
    return anchors


def _anchor_id(anchor: Any) -> str:
    return anchor if isinstance(anchor, str) else str(anchor["id"])


def cmd_verify_with_bundle(args: argparse.Namespace) -> int:
    """``passeport verify --bundle FILE --trust ...``: verify with no network at all."""
    from protocol.federation import open_bundle

    if args.did_document:
        raise CliError("--did-document does not go with --bundle: pin trust with --trust")
    if not args.trust:
        raise CliError(
            "--bundle needs --trust: the steward's DID document (or a bundle signer you trust), "
            "obtained out of band; trust is never taken from the bundle"
        )
    now = _now(args)
    max_age = _duration(args.bundle_max_age, "--bundle-max-age")
    bundle_label, bundle_doc = _read_input(args.bundle)
    if not isinstance(bundle_doc, dict):
        raise CliError(f"{bundle_label}: a bundle is a JSON object")
    anchors = _trust_anchors(args.trust)
    registry = bundle_doc.get("registry")
    document = registry.get("document") if isinstance(registry, dict) else None
    steward = document.get("issuer") if isinstance(document, dict) else None
    stewards = [a for a in anchors if _anchor_id(a) == steward]
    signers = [a for a in anchors if _anchor_id(a) != steward]
    try:
        bundle = open_bundle(
            bundle_doc,
            now=now,
            max_age=max_age,
            trusted_steward=stewards[0] if stewards else None,
            trusted_signers=signers,
        )
    except ProtocolError as exc:
        raise CliError(f"{bundle_label}: {exc.message}") from None
    except (TypeError, ValueError) as exc:
        raise CliError(f"--trust: {exc}") from None
    documents = [_read_input(name) for name in (args.inputs or ["-"])]
    reports = []
    for label, credential in documents:
        report = bundle.verify(credential, now=now, challenge=args.challenge, domain=args.domain)
        member = bundle.issuer_member(credential) if isinstance(credential, dict) else None
        reports.append((label, report, member))
    if args.json:
        out = []
        for label, report, member in reports:
            item = report.to_dict()
            item["source"] = label
            item["member"] = None if member is None else {"id": member.did, "name": member.name}
            out.append(item)
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        made = bundle_doc.get("created")
        print(
            f"offline: bundle of {bundle.registry.name} (registry version "
            f"{bundle.registry.version}) made at {made} by {bundle.signer}"
        )
        for label, report, member in reports:
            _print_report(label, report)
            if member is not None:
                print(f"  member: {member.name} ({member.did}) of {bundle.registry.name}")
            else:
                print(f"  member: none (the issuer is not a member of {bundle.registry.name})")
    return EXIT_OK if all(r.verified for _, r, _ in reports) else EXIT_INVALID


def add_verifier_commands(sub: Any) -> None:
    """``passeport verifier bundle``."""
    verifier = sub.add_parser("verifier", help="offline verification bundles for a network")
    verifier_sub = verifier.add_subparsers(
        dest="verifier_command", metavar="ACTION", parser_class=_Parser
    )
    verifier_sub.required = True
    bundle = verifier_sub.add_parser(
        "bundle", help="export a signed offline verification bundle from a node's data folder"
    )
    bundle.add_argument("--data", metavar="DIR", help="the node's data folder")
    bundle.add_argument("--out", required=True, metavar="FILE", help="bundle file to write")
    bundle.set_defaults(func=cmd_verifier_bundle)


def add_bundle_options(verify: argparse.ArgumentParser) -> None:
    """``passeport verify --bundle FILE --trust ... [--bundle-max-age DURATION]``."""
    verify.add_argument(
        "--bundle",
        metavar="FILE",
        help="verify offline with this network bundle (no network access at all)",
    )
    verify.add_argument(
        "--trust",
        action="append",
        metavar="FILE|DID",
        help="with --bundle: the steward's DID document, or a bundle signer you trust "
        "(a DID document file or a did:key), repeatable",
    )
    verify.add_argument(
        "--bundle-max-age",
        default=DEFAULT_BUNDLE_MAX_AGE,
        metavar="DURATION",
        help=f"with --bundle: older bundles give status unknown (default {DEFAULT_BUNDLE_MAX_AGE})",
    )


# -- parser ------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="passeport", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    keys = sub.add_parser("keys", help="create signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", parser_class=_Parser)
    keys_sub.required = True
    new = keys_sub.add_parser("new", help="write a new key file and print its DID")
    new.add_argument("--type", choices=["ed25519", "p256", "p384"], default="ed25519")
    new.add_argument("--out", help="key file to write (mode 0600); stdout if omitted")
    new.add_argument("--force", action="store_true", help="replace an existing key file")
    new.set_defaults(func=cmd_keys_new)

    sign = sub.add_parser("sign", help="sign a credential with its issuer's key")
    sign.add_argument("--key", required=True, help="Multikey key file of the issuer")
    sign.add_argument(
        "--suite",
        default="eddsa-rdfc-2022",
        choices=["eddsa-rdfc-2022", "ecdsa-rdfc-2019", "ecdsa-sd-2023", "Ed25519Signature2020"],
        help="cryptosuite (default eddsa-rdfc-2022; ecdsa-* need a P-256 key)",
    )
    sign.add_argument(
        "--mandatory",
        metavar="POINTERS",
        help="ecdsa-sd-2023: comma-separated JSON Pointers always disclosed "
        "(default: the Open Badges disclosure profile)",
    )
    sign.add_argument("--created", help="proof creation time (default: now)")
    sign.add_argument("input", nargs="?", default="-", help="credential file, or - for stdin")
    sign.set_defaults(func=cmd_sign)

    derive = sub.add_parser("derive", help="derive a selective disclosure (ecdsa-sd-2023)")
    derive.add_argument(
        "--reveal",
        required=True,
        metavar="POINTERS",
        help="comma-separated JSON Pointers to disclose",
    )
    derive.add_argument("input", nargs="?", default="-", help="credential with a base proof, or -")
    derive.set_defaults(func=cmd_derive)

    present = sub.add_parser("present", help="sign a presentation of credentials as their holder")
    present.add_argument("--key", required=True, help="the holder's key file")
    present.add_argument("--challenge", required=True, help="the verifier's challenge")
    present.add_argument("--domain", required=True, help="the verifier's domain")
    present.add_argument(
        "--reveal",
        metavar="POINTERS",
        help="for credentials with an ecdsa-sd-2023 base proof: JSON Pointers to disclose",
    )
    present.add_argument("credentials", nargs="+", metavar="CREDENTIAL")
    present.set_defaults(func=cmd_present)

    verify = sub.add_parser("verify", help="verify credentials and presentations offline")
    verify.add_argument("--json", action="store_true", help="print structured reports")
    verify.add_argument("--challenge", help="challenge a presentation must carry")
    verify.add_argument("--domain", help="domain a presentation must carry")
    verify.add_argument("--at", help="verify as of this time (default: now)")
    verify.add_argument(
        "--did-document",
        action="append",
        metavar="FILE",
        help="a DID or controller document to trust for key resolution (repeatable)",
    )
    verify.add_argument("inputs", nargs="*", metavar="FILE", help="files, or - for stdin")
    add_bundle_options(verify)
    verify.set_defaults(func=cmd_verify)
    add_verifier_commands(sub)

    demo = sub.add_parser("demo", help="sign and verify a sample badge")
    demo.set_defaults(func=cmd_demo)

    from node.cli import add_node_commands
    from wallet.cli import add_wallet_commands

    add_node_commands(sub)
    add_wallet_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except CliError as exc:
        print(f"passeport: error: {exc.message}", file=sys.stderr)
        return exc.code
    except ProtocolError as exc:
        print(f"passeport: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("passeport: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
