"""Issuing Open Badges 3.0 credentials, one at a time and in bulk (the ``"issuing"`` service).

An earner is named by e-mail (the credential carries an OB ``IdentityObject`` with a salted
SHA-256 hash, never the address), by DID (``credentialSubject.id``), or both. Every credential is
signed twice:

* ``credential``: eddsa-rdfc-2022 by the issuer's current Ed25519 key (ecdsa-rdfc-2019 when the
  issuer is a P-256-only did:key), the copy verifiers see;
* ``holderCredential``: an ecdsa-sd-2023 base proof by the issuer's P-256 key with the OB
  disclosure profile's mandatory pointers, for the holder to derive selective disclosures
  (absent when the issuer has no P-256 key).

Both are stored verbatim (the exact JSON text returned), with one status list entry
(:mod:`node.status`) written in the same transaction as the credential row.

Bulk issuing (``POST /api/issue-jobs``, a CSV of up to :data:`MAX_JOB_ROWS` rows) keeps a job
table and one row per CSV line with its own state and error. Each row has an idempotency key
(the CSV's ``idempotency_key`` column, or ``<job id>:<row number>``) that is UNIQUE among issued
credentials, and rows are issued in small transactions, so a job that is re-run or interrupted
never issues a row twice. A node that restarts resumes its unfinished jobs.

Signing runs off the event loop: in a pool of worker processes (``signing_workers`` in the
node's config, default: one more than the number of CPUs when there are several), or in
threads when that is 0.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import multiprocessing
import os
import re
import secrets
import sqlite3
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast
from urllib.parse import quote

from aiohttp import web
from sqlite_utils import Database

from protocol.di import sign
from protocol.di.ecdsa_sd_2023 import sign_base
from protocol.errors import ProtocolError
from protocol.keys import KeyPair, load_key_file
from protocol.ob import (
    Evidence,
    Result,
    build_credential,
    hashed_email_identity,
    normalize_email,
)
from protocol.ob.disclosure import mandatory_pointers
from protocol.timeutil import parse_datetime

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .config import NodeConfig
from .problems import Problem, read_json
from .status import PURPOSES, Reservation, StatusService
from .storage import register

__all__ = [
    "JOB_BATCH_ROWS",
    "MAX_JOB_ROWS",
    "IssuedCredential",
    "IssuingService",
    "SigningPool",
    "setup",
]

log = logging.getLogger("passeport.node.issuing")

#: Batches of a bulk job signed at once (a batch is written while the next ones sign).
JOB_BATCHES_IN_FLIGHT = 3
#: Most data rows in one CSV upload.
MAX_JOB_ROWS = 10_000
#: Rows signed together and written in one transaction by a bulk job.
JOB_BATCH_ROWS = 32
#: Signatures in flight at once that make the signing pool start its worker processes.
PROCESS_POOL_THRESHOLD = 4
#: Tasks waiting in one signing worker's pipe (the others wait in the node's memory).
TASKS_PER_WORKER = 4
#: Longest idempotency key accepted, in characters.
MAX_KEY_CHARS = 200
#: Most per-row errors shown in a job's progress document (all are kept).
JOB_ERRORS_SHOWN = 100
#: Longest ``name`` of a credential, in characters.
MAX_NAME_CHARS = 500
#: CSV columns (and their accepted aliases).
CSV_COLUMNS = {
    "email": "email",
    "did": "did",
    "subject_did": "did",
    "subject_id": "did",
    "achievement": "achievement",
    "achievement_id": "achievement",
    "idempotency_key": "key",
    "key": "key",
    "name": "name",
    "valid_until": "valid_until",
}
_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._-](#[^\s]*)?\Z")

T = TypeVar("T")

migrations = register("node.issuing")


@migrations()
def m001_issuing_tables(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE credentials (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            issuer TEXT NOT NULL,
            achievement_id TEXT,
            subject_did TEXT,
            recipient_email TEXT,
            state TEXT NOT NULL,
            status_purpose TEXT,
            issued_at TEXT NOT NULL,
            revoked_at TEXT,
            revocation_reason TEXT,
            idempotency_key TEXT UNIQUE,
            job_id TEXT,
            job_row INTEGER,
            vc TEXT NOT NULL,
            vc_sd TEXT
        ) STRICT
        """
    )
    db.execute("CREATE INDEX credentials_achievement ON credentials (achievement_id)")
    db.execute("CREATE INDEX credentials_job ON credentials (job_id, job_row)")
    db.execute(
        """
        CREATE TABLE issue_jobs (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            issuer TEXT NOT NULL,
            achievement_id TEXT,
            status_purpose TEXT NOT NULL,
            filename TEXT,
            content_hash TEXT NOT NULL,
            total INTEGER NOT NULL,
            issued INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            created_by TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT
        ) STRICT
        """
    )
    db.execute(
        """
        CREATE TABLE issue_job_rows (
            job_id TEXT NOT NULL REFERENCES issue_jobs (id),
            row INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL,
            email TEXT,
            did TEXT,
            achievement_id TEXT,
            name TEXT,
            valid_until TEXT,
            state TEXT NOT NULL,
            error TEXT,
            credential_id TEXT,
            PRIMARY KEY (job_id, row)
        ) STRICT
        """
    )
    db.execute("CREATE INDEX issue_job_rows_state ON issue_job_rows (job_id, state, row)")


# -- signing off the event loop ---------------------------------------------------------------

_WORKER_KEYS: dict[str, KeyPair] = {}


def _worker_key(key_file: Mapping[str, Any]) -> KeyPair:
    """A key pair from its key file, cached in the worker (keys rotate rarely)."""
    cache_key = json.dumps(key_file, sort_keys=True)
    pair = _WORKER_KEYS.get(cache_key)
    if pair is None:
        if len(_WORKER_KEYS) > 64:
            _WORKER_KEYS.clear()
        pair = _WORKER_KEYS[cache_key] = load_key_file(key_file)
    return pair


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _build(task: Mapping[str, Any]) -> dict[str, Any]:
    """The unsigned credential of ``task``, through the OB builder (validated)."""
    return build_credential(
        issuer=task["issuer"],
        achievement=task["achievement"],
        subject_id=task["subject_id"],
        identity=task["identity"],
        credential_id=task["credential_id"],
        valid_from=task["valid_from"],
        valid_until=task["valid_until"],
        name=task["name"],
        evidence=task["evidence"],
        results=task["results"],
        extra={"credentialStatus": task["status"]},
    )


#: Built credentials by their shape (issuer, achievement, dates, which recipient members).
_TEMPLATES: dict[str, dict[str, Any] | None] = {}
_PLACEHOLDER_ID = "urn:uuid:00000000-0000-4000-8000-000000000000"
_PLACEHOLDER_DID = "did:example:placeholder"


def _template_key(task: Mapping[str, Any]) -> str | None:
    if task["evidence"] or task["results"]:
        return None
    identity = task["identity"]
    return json.dumps(
        [
            task["issuer"],
            task["achievement"],
            task["name"],
            task["valid_until"].isoformat() if task["valid_until"] else None,
            task["valid_from"].isoformat(),
            task["subject_id"] is not None,
            sorted(identity) if identity is not None else None,
            sorted(task["status"]),
        ],
        sort_keys=True,
    )


def _with_values(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` in the member order of ``template`` (same member names)."""
    if set(template) != set(values):
        raise KeyError("members differ")
    return {name: values[name] for name in template}


def _fill(template: dict[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
    """The template with this credential's own values: id, subject id, identity, status."""
    document = dict(template)
    document["id"] = task["credential_id"]
    subject = dict(template["credentialSubject"])
    if task["subject_id"] is not None:
        subject["id"] = task["subject_id"]
    if task["identity"] is not None:
        subject["identifier"] = [_with_values(subject["identifier"][0], task["identity"])]
    document["credentialSubject"] = subject
    document["credentialStatus"] = _with_values(template["credentialStatus"], task["status"])
    return document


def _unsigned(task: Mapping[str, Any]) -> dict[str, Any]:
    """The unsigned credential: built once per shape by the OB builder (which validates it),
    then filled in with each credential's own values.

    Only the credential id, the subject id, the hashed identity and the status entry differ
    between credentials of one shape; the first credential of a shape is also built directly and
    compared, and a shape whose filled copy differs is always built directly.
    """
    key = _template_key(task)
    if key is None:
        return _build(task)
    if key not in _TEMPLATES:
        if len(_TEMPLATES) > 256:
            _TEMPLATES.clear()
        built = _build(task)
        placeholder = dict(
            task,
            credential_id=_PLACEHOLDER_ID,
            subject_id=_PLACEHOLDER_DID if task["subject_id"] is not None else None,
        )
        template: dict[str, Any] | None = _build(placeholder)
        try:
            if template is None or _fill(template, task) != built:
                template = None
        except (KeyError, IndexError, TypeError):
            template = None
        _TEMPLATES[key] = template
        return built
    template = _TEMPLATES[key]
    if template is None:
        return _build(task)
    try:
        return _fill(template, task)
    except (KeyError, IndexError, TypeError):
        return _build(task)


def sign_ob_credential(task: Mapping[str, Any]) -> tuple[str, str | None]:
    """Build and sign one OB credential (runs in a worker): ``(credential, holder copy)`` texts.

    ``task`` holds the builder arguments (``issuer``, ``achievement``, ``subject_id``,
    ``identity``, ``credential_id``, ``valid_from``, ``valid_until``, ``name``, ``evidence``,
    ``results``, ``status``) and the key files (``key``, ``suite``, ``sd_key`` or None).
    Raises ``ValueError`` when the inputs cannot make a valid credential.
    """
    unsigned = _unsigned(task)
    created = task["valid_from"]
    signed = sign(unsigned, key=_worker_key(task["key"]), created=created, suite=task["suite"])
    holder_copy = None
    if task["sd_key"] is not None:
        holder_copy = _dumps(
            sign_base(
                unsigned,
                key=_worker_key(task["sd_key"]),
                created=created,
                mandatory_pointers=mandatory_pointers(unsigned),
            )
        )
    return _dumps(signed), holder_copy


def sign_document(task: Mapping[str, Any]) -> str:
    """Sign any credential document (runs in a worker; the VC API): the signed JSON text.

    ``task``: ``document``, ``key`` (key file), ``suite``, ``created`` and, for ecdsa-sd-2023,
    ``mandatory_pointers``.
    """
    key = _worker_key(task["key"])
    if task["suite"] == "ecdsa-sd-2023":
        signed = sign_base(
            task["document"],
            key=key,
            created=task["created"],
            mandatory_pointers=task["mandatory_pointers"],
        )
    else:
        signed = sign(task["document"], key=key, created=task["created"], suite=task["suite"])
    return _dumps(signed)


def _default_workers(config: NodeConfig) -> int:
    if config.signing_workers is not None:
        return config.signing_workers
    cpus = os.cpu_count() or 1
    # One more worker than CPUs: a worker waiting for its next task (a round trip through the
    # event loop) leaves its CPU to another, which keeps every CPU signing.
    return cpus + 1 if cpus > 1 else 0


def _worker_main(conn: Connection) -> None:
    """A signing process: run ``(task id, fn, args)`` messages until the node closes the pipe
    (or dies: the pipe then reads EOF and the process ends)."""
    while True:
        try:
            task_id, fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = (task_id, True, fn(*args))
        except Exception as exc:  # sent back to the caller, raised there
            reply = (task_id, False, exc)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return
        except Exception as exc:  # an unpicklable result or exception
            conn.send((task_id, False, RuntimeError(f"cannot send the result back: {exc!r}")))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    pending: dict[int, asyncio.Future[Any]]


class _ProcessPool:
    """Worker processes fed through pipes that the event loop watches.

    Unlike ``concurrent.futures.ProcessPoolExecutor`` there is no helper thread in the node's
    process: the loop writes each task to a worker's pipe and reads results when the pipe is
    readable, so the loop never waits for the GIL behind a pickling thread. At most
    :data:`TASKS_PER_WORKER` tasks wait in a pipe (a few KB each, well under the pipe buffer, so
    a write never blocks); the rest wait in memory. A worker that dies fails its tasks and is
    replaced.
    """

    def __init__(self, workers: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._loop = asyncio.get_running_loop()
        self._workers = [self._start() for _ in range(workers)]
        self._waiting: deque[tuple[int, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._futures: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._closed = False

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, args=(theirs,), daemon=True, name="passeport-signing"
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours, {})
        self._loop.add_reader(ours.fileno(), self._on_readable, worker)
        return worker

    def submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> asyncio.Future[T]:
        if self._closed:
            raise RuntimeError("the signing pool is closed")
        self._next_id += 1
        future: asyncio.Future[T] = self._loop.create_future()
        self._futures[self._next_id] = future
        self._waiting.append((self._next_id, fn, args))
        self._dispatch()
        return future

    def _dispatch(self) -> None:
        while self._waiting:
            worker = min(self._workers, key=lambda w: len(w.pending))
            if len(worker.pending) >= TASKS_PER_WORKER:
                return
            task_id, fn, args = self._waiting.popleft()
            future = self._futures.pop(task_id)
            if future.cancelled():
                continue
            try:
                worker.conn.send((task_id, fn, args))
            except Exception as exc:  # unpicklable arguments, or a broken pipe
                future.set_exception(RuntimeError(f"cannot hand the task to a worker: {exc!r}"))
                continue
            worker.pending[task_id] = future

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                task_id, ok, value = worker.conn.recv()
                future = worker.pending.pop(task_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (EOFError, OSError):
            self._replace(worker)
        self._dispatch()

    def _replace(self, worker: _Worker) -> None:
        self._loop.remove_reader(worker.conn.fileno())
        worker.conn.close()
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(RuntimeError("a signing worker stopped"))
        worker.pending.clear()
        index = self._workers.index(worker)
        if not self._closed:
            self._workers[index] = self._start()

    def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            try:
                self._loop.remove_reader(worker.conn.fileno())
            except (OSError, ValueError):
                pass
            worker.conn.close()  # the worker reads EOF and ends
            for future in worker.pending.values():
                future.cancel()
        for future in self._futures.values():
            future.cancel()
        for worker in self._workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.terminate()


class SigningPool:
    """Runs CPU-heavy signing off the event loop, in threads or in worker processes.

    With ``workers`` > 0 the pool starts in threads, and starts the worker processes once
    :data:`PROCESS_POOL_THRESHOLD` signatures are in flight at once (a bulk job, concurrent
    API clients): a node that issues now and then never pays for the processes.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: _ProcessPool | None = None
        self._inflight = 0

    @property
    def uses_processes(self) -> bool:
        """Whether the worker processes were started."""
        return self._pool is not None

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` off the loop (``fn`` and the arguments must pickle for processes)."""
        self._inflight += 1
        try:
            if (
                self._pool is None
                and self.workers > 0
                and (self._inflight >= PROCESS_POOL_THRESHOLD)
            ):
                self._pool = _ProcessPool(self.workers)
            if self._pool is None:
                return await asyncio.to_thread(fn, *args)
            return await self._pool.submit(fn, args)
        finally:
            self._inflight -= 1

    def close(self) -> None:
        """Stop the workers (pending work is cancelled)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


# -- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCredential:
    """A stored credential: its metadata and the exact texts that were issued."""

    id: str
    kind: str
    issuer: str
    achievement_id: str | None
    subject_did: str | None
    email: str | None
    state: str
    status_purpose: str | None
    issued_at: str
    revoked_at: str | None
    revocation_reason: str | None
    idempotency_key: str | None
    job_id: str | None
    job_row: int | None
    text: str
    sd_text: str | None

    @property
    def credential(self) -> dict[str, Any]:
        """The eddsa-rdfc-2022 (or ecdsa-rdfc-2019) credential, parsed."""
        return cast(dict[str, Any], json.loads(self.text))

    @property
    def holder_credential(self) -> dict[str, Any] | None:
        """The ecdsa-sd-2023 base-proof copy for the holder, parsed (None if there is none)."""
        return None if self.sd_text is None else cast(dict[str, Any], json.loads(self.sd_text))

    @property
    def status(self) -> dict[str, Any] | None:
        """The credential's ``credentialStatus`` entry."""
        value = self.credential.get("credentialStatus")
        return value if isinstance(value, dict) else None

    def summary(self) -> dict[str, Any]:
        """The JSON description used by the API (no credential texts)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "issuer": self.issuer,
            "achievementId": self.achievement_id,
            "subjectId": self.subject_did,
            "email": self.email,
            "statusPurpose": self.status_purpose,
            "issuedAt": self.issued_at,
        }
        if self.revoked_at is not None:
            out["revokedAt"] = self.revoked_at
            out["revocationReason"] = self.revocation_reason
        if self.idempotency_key is not None:
            out["idempotencyKey"] = self.idempotency_key
        if self.job_id is not None:
            out.update(jobId=self.job_id, jobRow=self.job_row)
        return out

    def to_json_text(self) -> str:
        """The API document: :meth:`summary` plus the verbatim texts (never re-serialised)."""
        head = _dumps(self.summary())[:-1]
        parts = [head, ',"credential":', self.text]
        if self.sd_text is not None:
            parts += [',"holderCredential":', self.sd_text]
        parts.append("}")
        return "".join(parts)


_COLUMNS = (
    "id, kind, issuer, achievement_id, subject_did, recipient_email, state, status_purpose, "
    "issued_at, revoked_at, revocation_reason, idempotency_key, job_id, job_row, vc, vc_sd"
)


def _from_row(row: Sequence[Any]) -> IssuedCredential:
    return IssuedCredential(*row)


@dataclass
class _Prepared:
    """One credential ready to sign: its task, reservation and row values."""

    credential_id: str
    task: dict[str, Any]
    reservation: Reservation
    row: dict[str, Any]


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
        return await value
    return value


def _check_parts(evidence: Sequence[Any], results: Sequence[Any]) -> None:
    """422 problems for evidence or results that are not OB Evidence / Result objects."""
    for name, model, items in (("evidence", Evidence, evidence), ("results", Result, results)):
        for index, item in enumerate(items):
            try:
                if not isinstance(item, Mapping):
                    raise ProtocolError(f"{name}[{index}]: expected a JSON object")
                model.from_dict(item, path=f"{name}[{index}]")
            except ProtocolError as exc:
                raise Problem(422, "invalid-field", exc.message, field=name) from None


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ProtocolError) else str(exc)


def _check_did(value: Any, what: str = "subjectId") -> str:
    if not isinstance(value, str) or len(value) > 2048 or not _DID.match(value):
        raise Problem(422, "invalid-field", f"{what} must be a DID", field=what)
    return value


def _check_email(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 320:
        raise Problem(422, "invalid-field", "email must be an e-mail address", field="email")
    try:
        return normalize_email(value)
    except ValueError:
        raise Problem(
            422, "invalid-field", f"not an e-mail address: {value!r}", field="email"
        ) from None


def _check_key(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_CHARS:
        raise Problem(
            422,
            "invalid-field",
            f"an idempotency key is a non-empty string of at most {MAX_KEY_CHARS} characters",
            field="idempotencyKey",
        )
    return value.strip()


def _check_time(value: Any, what: str) -> datetime:
    try:
        if not isinstance(value, str):
            raise ProtocolError("not a string")
        return parse_datetime(value, what=what)
    except ProtocolError:
        raise Problem(
            422, "invalid-field", f"{what} must be a date-time with a time zone", field=what
        ) from None


class IssuingService:
    """Issue, find and revoke credentials; run bulk jobs (the ``"issuing"`` service)."""

    def __init__(
        self,
        config: NodeConfig,
        db: Database,
        services: Mapping[str, Any],
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.db = db
        self._services = services
        self._clock = clock
        self.pool = SigningPool(_default_workers(config))
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._key_files: dict[tuple[str | None, str | None, str], dict[str, Any]] = {}

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _status(self) -> StatusService:
        return cast(StatusService, self._services["status"])

    @property
    def _identity(self) -> Any:
        return self._services["identity"]

    def _key_file(self, pair: KeyPair) -> dict[str, Any]:
        """The key file handed to a signing worker (kept per method id and public key)."""
        cache_key = (pair.id, pair.controller, pair.public.multibase)
        found = self._key_files.get(cache_key)
        if found is None:
            if len(self._key_files) > 64:
                self._key_files.clear()
            found = self._key_files[cache_key] = pair.to_key_file()
        return found

    def _keys(self, issuer: str) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
        """(primary key file, its suite, ecdsa-sd-2023 key file or None) for ``issuer``."""
        identity = self._identity
        if issuer not in identity.issuer_ids():
            raise Problem(422, "unknown-issuer", f"this node holds no issuer identity {issuer}")
        sd_key: dict[str, Any] | None
        try:
            sd_key = self._key_file(identity.signing_key(issuer, "P-256"))
        except Problem:
            sd_key = None
        try:
            primary = self._key_file(identity.signing_key(issuer, "Ed25519"))
            return primary, "eddsa-rdfc-2022", sd_key
        except Problem:
            if sd_key is None:
                raise
            return sd_key, "ecdsa-rdfc-2019", sd_key

    async def _achievement(self, achievement_id: str) -> dict[str, Any]:
        service = self._services.get("achievements")
        if service is None:
            raise Problem(503, "unavailable", "this node has no achievements service")
        try:
            found = await _maybe_await(service.get(achievement_id))
        except Problem as problem:
            if problem.status == 404:
                raise Problem(
                    422, "unknown-achievement", f"no achievement {achievement_id!r}"
                ) from None
            raise
        if not isinstance(found, dict):
            raise Problem(422, "unknown-achievement", f"no achievement {achievement_id!r}")
        is_retired = getattr(service, "is_retired", None)
        if is_retired is not None and await _maybe_await(is_retired(achievement_id)):
            raise Problem(422, "retired-achievement", f"achievement {achievement_id!r} is retired")
        return found

    def _prepare(
        self,
        *,
        issuer: str,
        profile: dict[str, Any],
        keys: tuple[dict[str, Any], str, dict[str, Any] | None],
        achievement: dict[str, Any],
        email: str | None,
        subject_did: str | None,
        now: datetime,
        valid_until: datetime | None,
        name: str | None,
        evidence: Sequence[Any],
        results: Sequence[Any],
        status_purpose: str,
        row: dict[str, Any],
    ) -> _Prepared:
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        reservation = self._status.reserve(issuer, status_purpose, now=now)
        identity = hashed_email_identity(email, secrets.token_hex(16)) if email else None
        key, suite, sd_key = keys
        task = {
            "issuer": profile,
            "achievement": achievement,
            "subject_id": subject_did,
            "identity": identity,
            "credential_id": credential_id,
            "valid_from": now.replace(microsecond=0),
            "valid_until": valid_until,
            "name": name,
            "evidence": list(evidence),
            "results": list(results),
            "status": reservation.entry,
            "key": key,
            "suite": suite,
            "sd_key": sd_key,
        }
        values = {
            "id": credential_id,
            "kind": "ob",
            "issuer": issuer,
            "achievement_id": achievement.get("id"),
            "subject_did": subject_did,
            "recipient_email": email,
            "state": "issued",
            "status_purpose": status_purpose,
            "issued_at": task["valid_from"].isoformat(),
            **row,
        }
        return _Prepared(credential_id, task, reservation, values)

    def _store(self, prepared: _Prepared, texts: tuple[str, str | None]) -> None:
        """Insert the credential row and its status entry (inside the caller's transaction)."""
        values = dict(prepared.row, vc=texts[0], vc_sd=texts[1])
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.db.execute(
            f"INSERT INTO credentials ({columns}) VALUES ({marks})",  # noqa: S608 (fixed names)
            list(values.values()),
        )
        self._status.commit(prepared.reservation, prepared.credential_id)

    # -- the service contract --------------------------------------------------------------

    def get(self, credential_id: str) -> IssuedCredential | None:
        """The stored credential ``credential_id``, or None."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM credentials WHERE id = ?",  # noqa: S608
            [credential_id],
        ).fetchone()
        return None if row is None else _from_row(row)

    def by_key(self, idempotency_key: str) -> IssuedCredential | None:
        """The credential issued under ``idempotency_key``, or None."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM credentials WHERE idempotency_key = ?",  # noqa: S608
            [idempotency_key],
        ).fetchone()
        return None if row is None else _from_row(row)

    def list(
        self,
        *,
        achievement_id: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[IssuedCredential]:
        """Stored credentials, newest first."""
        where, args = [], []
        if achievement_id is not None:
            where.append("achievement_id = ?")
            args.append(achievement_id)
        if state is not None:
            where.append("state = ?")
            args.append(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM credentials {clause} "  # noqa: S608
            "ORDER BY issued_at DESC, rowid DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [_from_row(r) for r in rows]

    async def issue(
        self,
        *,
        achievement_id: str,
        email: str | None = None,
        subject_did: str | None = None,
        issuer: str | None = None,
        valid_until: datetime | str | None = None,
        name: str | None = None,
        evidence: Sequence[Any] = (),
        results: Sequence[Any] = (),
        status_purpose: str = "revocation",
        idempotency_key: str | None = None,
        now: datetime | None = None,
    ) -> IssuedCredential:
        """Issue one credential to ``email`` and/or ``subject_did``; return it as stored.

        Delivery calls this at claim time with the DID the wallet proved as ``subject_did``.
        With an ``idempotency_key`` already used, the credential issued then is returned and
        nothing is signed. Raises 422 problems for bad input (unknown achievement or issuer,
        no recipient, an invalid e-mail or DID, evidence that breaks the OB schema).
        """
        if email is None and subject_did is None:
            raise Problem(422, "invalid-field", "give the earner's email, subjectId, or both")
        email = _check_email(email) if email is not None else None
        subject_did = _check_did(subject_did) if subject_did is not None else None
        if idempotency_key is not None:
            idempotency_key = _check_key(idempotency_key)
            existing = self.by_key(idempotency_key)
            if existing is not None:
                return existing
        if status_purpose not in PURPOSES:
            raise Problem(
                422, "invalid-field", f"statusPurpose must be one of {', '.join(PURPOSES)}"
            )
        if isinstance(valid_until, str):
            valid_until = _check_time(valid_until, "validUntil")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_CHARS):
            raise Problem(422, "invalid-field", "name must be a short string", field="name")
        _check_parts(evidence, results)
        now = now or self._clock()
        issuer = issuer or self._identity.default_issuer()
        keys = self._keys(issuer)
        profile = self._identity.profile(issuer)
        achievement = await self._achievement(achievement_id)
        prepared = self._prepare(
            issuer=issuer,
            profile=profile,
            keys=keys,
            achievement=achievement,
            email=email,
            subject_did=subject_did,
            now=now,
            valid_until=valid_until,
            name=name,
            evidence=evidence,
            results=results,
            status_purpose=status_purpose,
            row={"idempotency_key": idempotency_key},
        )
        try:
            texts = await self.pool.run(sign_ob_credential, prepared.task)
        except (ValueError, ProtocolError) as exc:
            self._status.release(prepared.reservation)
            raise Problem(422, "invalid-credential", _message(exc)) from None
        except BaseException:
            self._status.release(prepared.reservation)
            raise
        try:
            with self.db.atomic():
                self._store(prepared, texts)
        except sqlite3.IntegrityError:
            self._status.release(prepared.reservation)
            existing = self.by_key(idempotency_key) if idempotency_key is not None else None
            if existing is not None:  # a concurrent request with the same key won
                return existing
            raise
        except BaseException:
            self._status.release(prepared.reservation)
            raise
        issued = self.get(prepared.credential_id)
        assert issued is not None
        return issued

    def _set_state(self, credential_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(
            f"UPDATE credentials SET {assignments} WHERE id = ?",  # noqa: S608 (fixed names)
            [*values.values(), credential_id],
        )

    def revoke(
        self, credential_id: str, reason: str | None = None, *, now: datetime | None = None
    ) -> IssuedCredential:
        """Revoke for good: set the status bit, re-sign the list, record when and why.

        Revoking a revoked credential changes nothing. A 404 problem for an unknown id.
        """
        issued = self._require(credential_id)
        if issued.state == "revoked":
            return issued
        if reason is not None and (not isinstance(reason, str) or len(reason) > 1000):
            raise Problem(422, "invalid-field", "reason must be a short string", field="reason")
        now = now or self._clock()
        with self.db.atomic():
            purpose = issued.status_purpose or "revocation"
            self._status.set_status(credential_id, purpose, True, now=now, final=True)
            self._set_state(
                credential_id, state="revoked", revoked_at=now.isoformat(), revocation_reason=reason
            )
        return self._require(credential_id)

    def suspend(
        self, credential_id: str, suspended: bool = True, *, now: datetime | None = None
    ) -> IssuedCredential:
        """Suspend (or, with ``suspended=False``, reinstate) a credential issued with a
        suspension entry; 409 for a revocation entry or a revoked credential."""
        issued = self._require(credential_id)
        if issued.status_purpose != "suspension":
            raise Problem(
                409,
                "conflict",
                "this credential's status entry is for revocation; only credentials issued "
                "with statusPurpose 'suspension' can be suspended",
            )
        if issued.state == "revoked":
            raise Problem(409, "conflict", "the credential is revoked")
        now = now or self._clock()
        with self.db.atomic():
            self._status.set_status(credential_id, "suspension", suspended, now=now)
            self._set_state(credential_id, state="suspended" if suspended else "issued")
        return self._require(credential_id)

    def _require(self, credential_id: str) -> IssuedCredential:
        issued = self.get(credential_id)
        if issued is None:
            raise Problem(404, "not-found", f"no credential {credential_id!r}")
        return issued

    # -- VC API issuance -------------------------------------------------------------------

    async def sign_document(
        self,
        document: dict[str, Any],
        *,
        issuer: str,
        algorithm: str,
        suite: str,
        mandatory: Sequence[str] | None,
        credential_id: str | None,
        status_purpose: str | None,
        now: datetime,
    ) -> str:
        """Sign an arbitrary credential as ``issuer`` (VC API), adding a status entry when
        ``status_purpose`` is given; store it when it can be referred to. The signed text."""
        key = self._identity.signing_key(issuer, algorithm).to_key_file()
        reservation = None
        handle = credential_id or document.get("id")
        if status_purpose is not None:
            if not isinstance(handle, str):
                raise Problem(
                    422,
                    "invalid-field",
                    "a credential with a status entry needs credential.id or "
                    "options.credentialId, to update its status later",
                )
            if self.get(handle) is not None:
                raise Problem(409, "conflict", f"a credential {handle!r} was already issued")
            reservation = self._status.reserve(issuer, status_purpose, now=now)
            document = dict(document, credentialStatus=reservation.entry)
        task = {
            "document": document,
            "key": key,
            "suite": suite,
            "created": now.replace(microsecond=0),
            "mandatory_pointers": list(mandatory or []),
        }
        try:
            text = await self.pool.run(sign_document, task)
        except BaseException:
            if reservation is not None:
                self._status.release(reservation)
            raise
        if isinstance(handle, str) and reservation is not None:
            try:
                with self.db.atomic():
                    self.db.execute(
                        "INSERT INTO credentials (id, kind, issuer, state, status_purpose, "
                        "issued_at, vc) VALUES (?, 'vcapi', ?, 'issued', ?, ?, ?)",
                        [handle, issuer, status_purpose, now.isoformat(), text],
                    )
                    self._status.commit(reservation, handle)
            except sqlite3.IntegrityError:
                self._status.release(reservation)
                raise Problem(
                    409, "conflict", f"a credential {handle!r} was already issued"
                ) from None
        return text

    # -- bulk jobs -------------------------------------------------------------------------

    def create_job(
        self,
        data: bytes,
        *,
        filename: str | None,
        achievement_id: str | None,
        issuer: str | None,
        status_purpose: str,
        created_by: str | None,
        now: datetime,
        allow_duplicate: bool = False,
    ) -> dict[str, Any]:
        """Parse a CSV upload into a job and its rows (invalid rows get their error now)."""
        import hashlib

        if status_purpose not in PURPOSES:
            raise Problem(422, "invalid-field", f"statusPurpose must be one of {PURPOSES}")
        issuer = issuer or self._identity.default_issuer()
        self._keys(issuer)
        content_hash = hashlib.sha256(data).hexdigest()
        if not allow_duplicate:
            row = self.db.execute(
                "SELECT id FROM issue_jobs WHERE content_hash = ? AND issuer = ? AND "
                "coalesce(achievement_id, '') = ?",
                [content_hash, issuer, achievement_id or ""],
            ).fetchone()
            if row is not None:
                raise Problem(
                    409,
                    "duplicate-upload",
                    f"this file was already uploaded as job {row[0]}; run that job again, or "
                    "upload with allowDuplicate=true to issue every row once more",
                    job=row[0],
                )
        rows = _parse_csv(data)
        job_id = uuid.uuid4().hex
        stamp = now.isoformat()
        records = []
        for number, fields in rows:
            error = None
            email = fields.get("email") or None
            did = fields.get("did") or None
            achievement = fields.get("achievement") or achievement_id
            key = fields.get("key") or f"{job_id}:{number}"
            valid_until = fields.get("valid_until") or None
            name = fields.get("name") or None
            try:
                if "__error__" in fields:
                    raise Problem(422, "invalid-csv", fields["__error__"])
                if email is None and did is None:
                    raise Problem(422, "invalid-field", "the row has neither email nor did")
                if email is not None:
                    email = _check_email(email)
                if did is not None:
                    did = _check_did(did, "did")
                if achievement is None:
                    raise Problem(422, "invalid-field", "no achievement for this row")
                key = _check_key(key)
                if valid_until is not None:
                    _check_time(valid_until, "valid_until")
                if name is not None and len(name) > MAX_NAME_CHARS:
                    raise Problem(422, "invalid-field", "name is too long")
            except Problem as problem:
                error = problem.detail
            records.append(
                {
                    "job_id": job_id,
                    "row": number,
                    "idempotency_key": key,
                    "email": email,
                    "did": did,
                    "achievement_id": achievement,
                    "name": name,
                    "valid_until": valid_until,
                    "state": "error" if error else "pending",
                    "error": error,
                }
            )
        failed = sum(1 for r in records if r["state"] == "error")
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO issue_jobs (id, state, issuer, achievement_id, status_purpose, "
                "filename, content_hash, total, failed, created_by, created_at, updated_at) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    job_id,
                    issuer,
                    achievement_id,
                    status_purpose,
                    filename,
                    content_hash,
                    len(records),
                    failed,
                    created_by,
                    stamp,
                    stamp,
                ],
            )
            self.db["issue_job_rows"].insert_all(records)  # type: ignore[union-attr]
        return self.job(job_id)

    def job(self, job_id: str, *, errors: int = JOB_ERRORS_SHOWN) -> dict[str, Any]:
        """A job's progress: counts, state and the first per-row errors."""
        row = self.db.execute(
            "SELECT id, state, issuer, achievement_id, status_purpose, filename, total, issued, "
            "failed, created_by, created_at, updated_at, finished_at FROM issue_jobs WHERE id = ?",
            [job_id],
        ).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no issue job {job_id!r}")
        keys = [
            "id",
            "state",
            "issuer",
            "achievementId",
            "statusPurpose",
            "filename",
            "total",
            "issued",
            "failed",
            "createdBy",
            "createdAt",
            "updatedAt",
            "finishedAt",
        ]
        out = dict(zip(keys, row, strict=True))
        out["pending"] = out["total"] - out["issued"] - out["failed"]
        failures = self.db.execute(
            "SELECT row, idempotency_key, error FROM issue_job_rows "
            "WHERE job_id = ? AND state = 'error' ORDER BY row LIMIT ?",
            [job_id, errors],
        ).fetchall()
        out["errors"] = [{"row": r, "idempotencyKey": k, "error": e} for r, k, e in failures]
        out["errorsTruncated"] = out["failed"] > len(failures)
        return out

    def job_rows(
        self, job_id: str, *, state: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The rows of a job (all, or those in ``state``), in CSV order."""
        self.job(job_id, errors=0)
        clause = "AND state = ?" if state else ""
        args: list[Any] = [job_id, *([state] if state else []), limit, offset]
        sql = (
            "SELECT row, idempotency_key, email, did, achievement_id, state, error, "  # noqa: S608
            f"credential_id FROM issue_job_rows WHERE job_id = ? {clause} "
            "ORDER BY row LIMIT ? OFFSET ?"
        )
        rows = self.db.execute(sql, args).fetchall()
        keys = [
            "row",
            "idempotencyKey",
            "email",
            "did",
            "achievementId",
            "state",
            "error",
            "credentialId",
        ]
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def start_job(self, job_id: str) -> None:
        """Run (or resume) a job in the background; a no-op when it already runs."""
        task = self._jobs.get(job_id)
        if task is not None and not task.done():
            return
        self._jobs[job_id] = asyncio.get_running_loop().create_task(self._run_job(job_id))

    def rerun_job(self, job_id: str, *, now: datetime) -> dict[str, Any]:
        """Retry a job's failed rows (issued rows are never issued again) and run it."""
        self.job(job_id, errors=0)
        with self.db.atomic():
            changed = self.db.execute(
                "UPDATE issue_job_rows SET state = 'pending', error = NULL "
                "WHERE job_id = ? AND state = 'error'",
                [job_id],
            ).rowcount
            self.db.execute(
                "UPDATE issue_jobs SET state = 'running', failed = failed - ?, updated_at = ?, "
                "finished_at = NULL WHERE id = ?",
                [changed, now.isoformat(), job_id],
            )
        self.start_job(job_id)
        return self.job(job_id)

    async def wait_job(self, job_id: str) -> dict[str, Any]:
        """Wait until the job's background run ends (tests, the CLI); its progress."""
        task = self._jobs.get(job_id)
        if task is not None:
            await asyncio.shield(task)
        return self.job(job_id)

    def resume_jobs(self) -> list[str]:
        """Start every unfinished job (called at start-up)."""
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM issue_jobs WHERE state = 'running' ORDER BY created_at"
            ).fetchall()
        ]
        for job_id in ids:
            self.start_job(job_id)
        return ids

    async def _run_job(self, job_id: str) -> None:
        try:
            await self._run_job_rows(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("issue job %s stopped on an unexpected error", job_id)

    async def _run_job_rows(self, job_id: str) -> None:
        job = self.db.execute(
            "SELECT issuer, status_purpose FROM issue_jobs WHERE id = ?", [job_id]
        ).fetchone()
        issuer, purpose = str(job[0]), str(job[1])
        achievements: dict[str, dict[str, Any] | Problem] = {}
        last_row = 0
        # Batches overlap (one signs while another is written), each in its own transaction.
        running: set[asyncio.Task[None]] = set()
        try:
            while not self._closing:
                rows = self.db.execute(
                    "SELECT row, idempotency_key, email, did, achievement_id, name, valid_until "
                    "FROM issue_job_rows WHERE job_id = ? AND state = 'pending' AND row > ? "
                    "ORDER BY row LIMIT ?",
                    [job_id, last_row, JOB_BATCH_ROWS],
                ).fetchall()
                if not rows:
                    break
                last_row = rows[-1][0]
                running.add(
                    asyncio.create_task(
                        self._run_batch(job_id, issuer, purpose, rows, achievements)
                    )
                )
                if len(running) >= JOB_BATCHES_IN_FLIGHT:
                    finished, running = await asyncio.wait(
                        running, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in finished:
                        task.result()
            for task in await asyncio.gather(*running, return_exceptions=True):
                if isinstance(task, BaseException):
                    raise task
        finally:
            for task in running:
                task.cancel()
        if self._closing:
            return
        now = self._clock().isoformat()
        self.db.execute(
            "UPDATE issue_jobs SET state = 'done', updated_at = ?, finished_at = ? "
            "WHERE id = ? AND NOT EXISTS (SELECT 1 FROM issue_job_rows "
            "WHERE job_id = ? AND state = 'pending')",
            [now, now, job_id, job_id],
        )

    async def _run_batch(
        self,
        job_id: str,
        issuer: str,
        purpose: str,
        rows: Sequence[Sequence[Any]],
        achievements: dict[str, dict[str, Any] | Problem],
    ) -> None:
        now = self._clock()
        errors: dict[int, str] = {}
        done: dict[int, str] = {}
        prepared: dict[int, _Prepared] = {}
        try:
            keys = self._keys(issuer)
            profile = self._identity.profile(issuer)
        except Problem as problem:
            keys, profile = None, None
            for row in rows:
                errors[row[0]] = problem.detail
        for number, key, email, did, achievement_id, name, valid_until in rows:
            if keys is None or profile is None:
                break
            existing = self.by_key(key)
            if existing is not None:
                done[number] = existing.id
                continue
            try:
                if not achievement_id:
                    raise Problem(422, "invalid-field", "no achievement for this row")
                if achievement_id not in achievements:
                    try:
                        achievements[achievement_id] = await self._achievement(achievement_id)
                    except Problem as problem:
                        achievements[achievement_id] = problem
                achievement = achievements[achievement_id]
                if isinstance(achievement, Problem):
                    raise achievement
                # rows are checked at upload; check again, a re-run retries failed rows as is
                email = _check_email(email) if email else None
                did = _check_did(did, "did") if did else None
                if email is None and did is None:
                    raise Problem(422, "invalid-field", "the row has neither email nor did")
                prepared[number] = self._prepare(
                    issuer=issuer,
                    profile=profile,
                    keys=keys,
                    achievement=achievement,
                    email=email,
                    subject_did=did,
                    now=now,
                    valid_until=_check_time(valid_until, "valid_until") if valid_until else None,
                    name=name,
                    evidence=(),
                    results=(),
                    status_purpose=purpose,
                    row={"idempotency_key": key, "job_id": job_id, "job_row": number},
                )
            except Problem as problem:
                errors[number] = problem.detail
            except (ValueError, ProtocolError) as exc:
                errors[number] = _message(exc)
        numbers = list(prepared)
        outcomes = await asyncio.gather(
            *(self.pool.run(sign_ob_credential, prepared[n].task) for n in numbers),
            return_exceptions=True,
        )
        with self.db.atomic():
            for number, outcome in zip(numbers, outcomes, strict=True):
                item = prepared[number]
                if isinstance(outcome, BaseException):
                    self._status.release(item.reservation)
                    if not isinstance(outcome, Exception):
                        raise outcome
                    errors[number] = (
                        _message(outcome)
                        if isinstance(outcome, ValueError | ProtocolError)
                        else "signing failed"
                    )
                    continue
                try:
                    with self.db.atomic():
                        self._store(item, outcome)
                except sqlite3.IntegrityError:
                    self._status.release(item.reservation)
                    existing = self.by_key(str(item.row["idempotency_key"]))
                    if existing is None:
                        raise
                    done[number] = existing.id
                    continue
                done[number] = item.credential_id
            for number, credential_id in done.items():
                self.db.execute(
                    "UPDATE issue_job_rows SET state = 'issued', credential_id = ?, error = NULL "
                    "WHERE job_id = ? AND row = ?",
                    [credential_id, job_id, number],
                )
            for number, error in errors.items():
                self.db.execute(
                    "UPDATE issue_job_rows SET state = 'error', error = ? "
                    "WHERE job_id = ? AND row = ?",
                    [error[:1000], job_id, number],
                )
            self.db.execute(
                "UPDATE issue_jobs SET issued = issued + ?, failed = failed + ?, updated_at = ? "
                "WHERE id = ?",
                [len(done), len(errors), now.isoformat(), job_id],
            )

    async def close(self) -> None:
        """Stop background jobs (they resume at the next start) and the signing pool."""
        self._closing = True
        for task in self._jobs.values():
            task.cancel()
        for task in self._jobs.values():
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 (already logged)
                pass
        self.pool.close()


def _parse_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV upload as (row number, {column: value}); 400/413/422 problems."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(400, "malformed", "the CSV file is not UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise Problem(422, "empty-upload", "the CSV file is empty") from None
    except csv.Error as exc:
        raise Problem(400, "malformed", f"the CSV file cannot be read: {exc}") from None
    names = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in header]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise Problem(
            422,
            "invalid-csv",
            f"unknown CSV columns {unknown}; known: {sorted(CSV_COLUMNS)}",
        )
    columns = [CSV_COLUMNS[n] for n in names]
    if len(set(columns)) != len(columns):
        raise Problem(422, "invalid-csv", "a CSV column is repeated")
    if "email" not in columns and "did" not in columns:
        raise Problem(422, "invalid-csv", "the CSV needs an email or a did column")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for number, values in enumerate(reader, start=1):
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_JOB_ROWS:
                raise Problem(
                    413, "too-many-rows", f"a CSV upload holds at most {MAX_JOB_ROWS} rows"
                )
            if len(values) != len(columns):
                fields = {"__error__": f"expected {len(columns)} fields, got {len(values)}"}
            else:
                fields = {c: v.strip() for c, v in zip(columns, values, strict=True)}
            rows.append((number, fields))
    except csv.Error as exc:
        raise Problem(400, "malformed", f"the CSV file cannot be read: {exc}") from None
    if not rows:
        raise Problem(422, "empty-upload", "the CSV file has no data rows")
    return rows


# -- HTTP -------------------------------------------------------------------------------------


def _service(request: web.Request) -> IssuingService:
    return cast(IssuingService, request.app[SERVICES]["issuing"])


async def _require(request: web.Request, scope: str) -> Any:
    auth = request.app[SERVICES].get("auth")
    if auth is None:
        raise Problem(503, "unavailable", "this node has no authentication service")
    return await _maybe_await(auth.require_scope(request, scope))


def _principal_name(principal: Any) -> str | None:
    email = getattr(principal, "email", None)
    if isinstance(email, str):
        return email
    token = getattr(principal, "token_id", None)
    return f"token:{token}" if token is not None else None


def _json_text(
    text: str, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="application/json", headers=dict(headers or {})
    )


def _location(credential_id: str) -> str:
    return "/api/credentials/" + quote(credential_id, safe=":")


def _optional_str(body: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        if name in body and body[name] is not None:
            value = body[name]
            if not isinstance(value, str):
                raise Problem(422, "invalid-field", f"{name} must be a string", field=name)
            return value
    return None


def _optional_list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 100:
        raise Problem(422, "invalid-field", f"{name} must be an array (at most 100)", field=name)
    return value


async def post_credential(request: web.Request) -> web.Response:
    """``POST /api/credentials``: issue one credential (scope ``credentials:issue``)."""
    await _require(request, "credentials:issue")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "expected a JSON object")
    known = {
        "achievementId",
        "achievement",
        "email",
        "subjectId",
        "did",
        "issuer",
        "validUntil",
        "name",
        "evidence",
        "results",
        "statusPurpose",
        "idempotencyKey",
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise Problem(422, "invalid-field", f"unknown members {unknown}", fields=unknown)
    achievement_id = _optional_str(body, "achievementId", "achievement")
    if achievement_id is None:
        raise Problem(422, "invalid-field", "achievementId is required", field="achievementId")
    key = request.headers.get("Idempotency-Key") or _optional_str(body, "idempotencyKey")
    service = _service(request)
    if key is not None:
        existing = service.by_key(_check_key(key))
        if existing is not None:
            return _json_text(existing.to_json_text(), headers={"Location": _location(existing.id)})
    issued = await service.issue(
        achievement_id=achievement_id,
        email=_optional_str(body, "email"),
        subject_did=_optional_str(body, "subjectId", "did"),
        issuer=_optional_str(body, "issuer"),
        valid_until=_optional_str(body, "validUntil"),
        name=_optional_str(body, "name"),
        evidence=_optional_list(body, "evidence"),
        results=_optional_list(body, "results"),
        status_purpose=_optional_str(body, "statusPurpose") or "revocation",
        idempotency_key=key,
        now=request.app[CLOCK](),
    )
    return _json_text(issued.to_json_text(), status=201, headers={"Location": _location(issued.id)})


async def list_credentials(request: web.Request) -> web.Response:
    """``GET /api/credentials?achievement=&state=&limit=&offset=``: summaries (staff)."""
    await _require(request, "staff")
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        raise Problem(400, "malformed", "limit and offset must be integers") from None
    items = _service(request).list(
        achievement_id=request.query.get("achievement"),
        state=request.query.get("state"),
        limit=limit,
        offset=offset,
    )
    return web.json_response({"credentials": [i.summary() for i in items]})


async def get_credential(request: web.Request) -> web.Response:
    """``GET /api/credentials/{id}``: the stored credential and its copies (staff)."""
    await _require(request, "staff")
    issued = _service(request)._require(request.match_info["id"])
    return _json_text(issued.to_json_text())


async def _reason(request: web.Request) -> str | None:
    if not request.can_read_body:
        return None
    body = await read_json(request)
    if body is None:
        return None
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "expected a JSON object")
    return _optional_str(body, "reason")


async def revoke_credential(request: web.Request) -> web.Response:
    """``POST /api/credentials/{id}/revoke`` ``{"reason"?}`` (scope ``credentials:revoke``)."""
    await _require(request, "credentials:revoke")
    reason = await _reason(request)
    issued = _service(request).revoke(request.match_info["id"], reason, now=request.app[CLOCK]())
    return web.json_response(issued.summary())


async def suspend_credential(request: web.Request) -> web.Response:
    """``POST /api/credentials/{id}/suspend`` (scope ``credentials:revoke``)."""
    await _require(request, "credentials:revoke")
    issued = _service(request).suspend(request.match_info["id"], True, now=request.app[CLOCK]())
    return web.json_response(issued.summary())


async def unsuspend_credential(request: web.Request) -> web.Response:
    """``POST /api/credentials/{id}/unsuspend`` (scope ``credentials:revoke``)."""
    await _require(request, "credentials:revoke")
    issued = _service(request).suspend(request.match_info["id"], False, now=request.app[CLOCK]())
    return web.json_response(issued.summary())


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


async def post_issue_job(request: web.Request) -> web.Response:
    """``POST /api/issue-jobs``: a CSV upload (``text/csv`` body with query parameters, or a
    multipart form with ``file`` and fields); 202 with the job (scope ``credentials:issue``)."""
    principal = await _require(request, "credentials:issue")
    params: dict[str, str] = dict(request.query)
    filename = None
    if request.content_type == "multipart/form-data":
        form = await request.post()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Problem(422, "invalid-field", "the form needs a CSV file in 'file'", field="file")
        data = upload.file.read()
        filename = upload.filename
        for name, value in form.items():
            if isinstance(value, str):
                params[name] = value
    elif request.content_type in ("text/csv", "application/csv", "text/plain"):
        limit = request.app[CONFIG].max_upload_bytes
        if request.content_length is not None and request.content_length > limit:
            raise Problem(413, "payload-too-large", f"the upload exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:  # StreamReader.read(n) returns what has arrived: read to the end
            chunk = await request.content.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise Problem(413, "payload-too-large", f"the upload exceeds {limit} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
        filename = params.get("filename")
    else:
        raise Problem(415, "unsupported-media-type", "upload a text/csv body or a multipart form")
    service = _service(request)
    job = service.create_job(
        data,
        filename=filename,
        achievement_id=params.get("achievement") or params.get("achievementId"),
        issuer=params.get("issuer"),
        status_purpose=params.get("statusPurpose") or "revocation",
        created_by=_principal_name(principal),
        now=request.app[CLOCK](),
        allow_duplicate=_flag(params.get("allowDuplicate")),
    )
    service.start_job(job["id"])
    return web.json_response(job, status=202, headers={"Location": f"/api/issue-jobs/{job['id']}"})


async def get_issue_job(request: web.Request) -> web.Response:
    """``GET /api/issue-jobs/{id}``: progress and the first per-row errors (staff)."""
    await _require(request, "staff")
    return web.json_response(_service(request).job(request.match_info["id"]))


async def get_issue_job_rows(request: web.Request) -> web.Response:
    """``GET /api/issue-jobs/{id}/rows?state=&limit=&offset=``: per-row states (staff)."""
    await _require(request, "staff")
    try:
        limit = min(max(int(request.query.get("limit", "1000")), 1), MAX_JOB_ROWS)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        raise Problem(400, "malformed", "limit and offset must be integers") from None
    state = request.query.get("state")
    if state not in (None, "pending", "issued", "error"):
        raise Problem(400, "malformed", "state is pending, issued or error")
    rows = _service(request).job_rows(
        request.match_info["id"], state=state, limit=limit, offset=offset
    )
    return web.json_response({"rows": rows})


async def rerun_issue_job(request: web.Request) -> web.Response:
    """``POST /api/issue-jobs/{id}/run``: retry failed rows and resume (``credentials:issue``)."""
    await _require(request, "credentials:issue")
    job = _service(request).rerun_job(request.match_info["id"], now=request.app[CLOCK]())
    return web.json_response(job, status=202)


def setup(app: web.Application) -> None:
    """Publish the ``"issuing"`` service and its routes; resume unfinished jobs at start-up."""
    service = IssuingService(app[CONFIG], app[DB], app[SERVICES], app[CLOCK])
    app[SERVICES]["issuing"] = service
    app.router.add_post("/api/credentials", post_credential)
    app.router.add_get("/api/credentials", list_credentials)
    app.router.add_get("/api/credentials/{id}", get_credential)
    app.router.add_post("/api/credentials/{id}/revoke", revoke_credential)
    app.router.add_post("/api/credentials/{id}/suspend", suspend_credential)
    app.router.add_post("/api/credentials/{id}/unsuspend", unsuspend_credential)
    app.router.add_post("/api/issue-jobs", post_issue_job)
    app.router.add_get("/api/issue-jobs/{id}", get_issue_job)
    app.router.add_get("/api/issue-jobs/{id}/rows", get_issue_job_rows)
    app.router.add_post("/api/issue-jobs/{id}/run", rerun_issue_job)

    async def on_startup(app: web.Application) -> None:
        resumed = service.resume_jobs()
        if resumed:
            log.info("resuming %d unfinished issue job(s)", len(resumed))

    async def on_shutdown(app: web.Application) -> None:
        await service.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
