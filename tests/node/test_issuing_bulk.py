"""Bulk issuing from CSV: uploads, per-row errors, progress, idempotency across re-runs and
re-uploads, limits, and resuming an unfinished job when the node starts again."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from node.appkeys import CLOCK, SERVICES
from node.issuing import MAX_JOB_ROWS
from tests.node.test_issuing_support import csv_text, serve_existing, wait_json


async def upload(node: Any, text: str | bytes, **params: str) -> tuple[int, Any]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    headers = dict(node.auth, **{"Content-Type": "text/csv"})
    async with node.session.post(
        node.url("/api/issue-jobs"), data=data, params=params, headers=headers
    ) as response:
        return response.status, json.loads(await response.text())


async def finish(node: Any, job_id: str) -> dict[str, Any]:
    await node.service("issuing").wait_job(job_id)
    return dict(
        await wait_json(node.session, node.url(f"/api/issue-jobs/{job_id}"), headers=node.auth)
    )


def credential_count(node: Any) -> int:
    return int(node.service("issuing").db.execute("SELECT count(*) FROM credentials").fetchone()[0])


async def test_csv_job_with_row_errors(node):
    text = csv_text(
        ["email", "did", "achievement"],
        [
            ["ada@example.org", "", node.samples[0]],
            ["", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", node.samples[1]],
            ["not-an-address", "", node.samples[0]],
            ["", "", node.samples[0]],
            ["grace@example.org", "", "no-such-achievement"],
            ["alan@example.org", "https://not-a-did", ""],
            ["kathy@example.org", "", ""],
        ],
    )
    status, job = await upload(node, text, achievement=node.samples[2])
    assert status == 202, job
    assert job["total"] == 7
    done = await finish(node, job["id"])
    assert done["state"] == "done"
    assert (done["issued"], done["failed"], done["pending"]) == (3, 4, 0)
    errors = {e["row"]: e["error"] for e in done["errors"]}
    assert set(errors) == {3, 4, 5, 6}
    assert "e-mail" in errors[3]
    assert "neither email nor did" in errors[4]
    assert "no achievement" in errors[5]
    assert "DID" in errors[6]
    rows = await wait_json(
        node.session, node.url(f"/api/issue-jobs/{job['id']}/rows"), headers=node.auth
    )
    by_row = {r["row"]: r for r in rows["rows"]}
    assert by_row[7]["state"] == "issued"  # no achievement column value: the job's default
    issuing = node.service("issuing")
    last = issuing.get(by_row[7]["credentialId"])
    assert last.achievement_id.endswith(node.samples[2])
    assert last.job_id == job["id"] and last.job_row == 7
    assert issuing.get(by_row[2]["credentialId"]).subject_did.startswith("did:key:")
    errors_only = await wait_json(
        node.session,
        node.url(f"/api/issue-jobs/{job['id']}/rows"),
        params={"state": "error"},
        headers=node.auth,
    )
    assert [r["row"] for r in errors_only["rows"]] == [3, 4, 5, 6]


async def test_multipart_upload(node):
    form = aiohttp.FormData()
    form.add_field("achievement", node.samples[0])
    form.add_field(
        "file",
        csv_text(["Email"], [["a@example.org"], ["b@example.org"]]).encode(),
        filename="cohort.csv",
        content_type="text/csv",
    )
    async with node.session.post(
        node.url("/api/issue-jobs"), data=form, headers=node.auth
    ) as response:
        assert response.status == 202, await response.text()
        job = await response.json()
        assert response.headers["Location"] == f"/api/issue-jobs/{job['id']}"
    assert job["filename"] == "cohort.csv"
    done = await finish(node, job["id"])
    assert done["issued"] == 2


async def test_rerun_and_reupload_issue_nothing_twice(node):
    text = csv_text(
        ["email", "idempotency_key"],
        [["a@example.org", "student-1"], ["b@example.org", "student-2"], ["oops", "student-3"]],
    )
    status, job = await upload(node, text, achievement=node.samples[0])
    assert status == 202
    done = await finish(node, job["id"])
    assert (done["issued"], done["failed"]) == (2, 1)
    assert credential_count(node) == 2
    # re-running retries only the failed row (it fails again); issued rows stay issued once
    async with node.session.post(
        node.url(f"/api/issue-jobs/{job['id']}/run"), headers=node.auth
    ) as response:
        assert response.status == 202
    done = await finish(node, job["id"])
    assert (done["issued"], done["failed"]) == (2, 1)
    assert credential_count(node) == 2
    # the same file again is refused...
    status, problem = await upload(node, text, achievement=node.samples[0])
    assert status == 409 and problem["job"] == job["id"]
    # ...and when forced, the client's idempotency keys still prevent re-issuing
    status, second = await upload(node, text, achievement=node.samples[0], allowDuplicate="true")
    assert status == 202
    done = await finish(node, second["id"])
    assert (done["issued"], done["failed"]) == (2, 1)
    assert credential_count(node) == 2
    first_rows = node.service("issuing").job_rows(job["id"], state="issued")
    second_rows = node.service("issuing").job_rows(second["id"], state="issued")
    assert [r["credentialId"] for r in first_rows] == [r["credentialId"] for r in second_rows]


@pytest.mark.parametrize(
    ("text", "status", "needle"),
    [
        ("", 422, "empty"),
        ("email\n", 422, "no data rows"),
        ("email,colour\na@example.org,red\n", 422, "unknown CSV columns"),
        ("name\nAda\n", 422, "email or a did"),
        ("email,Email\na@example.org,b@example.org\n", 422, "repeated"),
        (b"email\n\xff\xfe\n", 400, "UTF-8"),
        ("email\n" + "a@example.org\n" * (MAX_JOB_ROWS + 1), 413, "at most"),
    ],
)
async def test_bad_uploads(node, text, status, needle):
    got, problem = await upload(node, text, achievement=node.samples[0])
    assert got == status, problem
    assert needle in problem["detail"]
    assert credential_count(node) == 0


async def test_upload_limits_and_media_types(node):
    headers = dict(node.auth, **{"Content-Type": "application/json"})
    async with node.session.post(node.url("/api/issue-jobs"), data=b"{}", headers=headers) as r:
        assert r.status == 415 and r.content_type == "application/problem+json"
    status, _ = await upload(
        node, "email\na@example.org\n", achievement=node.samples[0], statusPurpose="nope"
    )
    assert status == 422
    status, _ = await upload(
        node, "email\na@example.org\n", achievement=node.samples[0], issuer="did:key:z6Mkx"
    )
    assert status == 422
    async with node.session.get(node.url("/api/issue-jobs/nope"), headers=node.auth) as r:
        assert r.status == 404


async def test_a_full_size_job_is_accepted(node):
    rows = [[f"learner{i}@example.org", f"k{i}"] for i in range(MAX_JOB_ROWS)]
    issuing = node.service("issuing")
    job = issuing.create_job(
        csv_text(["email", "idempotency_key"], rows).encode(),
        filename=None,
        achievement_id=node.samples[0],
        issuer=None,
        status_purpose="revocation",
        created_by="test",
        now=node.app[CLOCK](),
    )
    assert job["total"] == MAX_JOB_ROWS and job["failed"] == 0 and job["pending"] == MAX_JOB_ROWS


async def test_unfinished_job_resumes_at_start(start_node, clock):
    async with start_node(clock=clock) as node:
        config = node.config
        issuing = node.service("issuing")
        rows = [[f"learner{i}@example.org"] for i in range(40)]
        job = issuing.create_job(
            csv_text(["email"], rows).encode(),
            filename="later.csv",
            achievement_id=node.samples[0],
            issuer=None,
            status_purpose="revocation",
            created_by="test",
            now=clock(),
        )
        # a few rows are issued before the node stops (as if interrupted)
        await issuing._run_batch(
            job["id"],
            node.did,
            "revocation",
            node.service("issuing")
            .db.execute(
                "SELECT row, idempotency_key, email, did, achievement_id, name, valid_until "
                "FROM issue_job_rows WHERE job_id = ? ORDER BY row LIMIT 5",
                [job["id"]],
            )
            .fetchall(),
            {},
        )
        assert issuing.job(job["id"])["issued"] == 5
    async with serve_existing(config, clock=clock) as (app, base):
        resumed = app[SERVICES]["issuing"]
        done = await resumed.wait_job(job["id"])
        assert done["state"] == "done" and done["issued"] == 40
        count = resumed.db.execute(
            "SELECT count(*), count(DISTINCT job_row) FROM credentials WHERE job_id = ?",
            [job["id"]],
        ).fetchone()
        assert tuple(count) == (40, 40)
        assert base.startswith("http://127.0.0.1:")
