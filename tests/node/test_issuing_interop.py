"""What the node issues verifies in Digital Bazaar's JS stack (``tests/interop/js``).

Given only the node's DID document and its status list, the JS stack verifies the
eddsa-rdfc-2022 credential and the signed status list credential; the status bit is read from the
list independently of Passeport's codec; the ecdsa-sd-2023 holder copy derives and verifies
there, and a disclosure derived by the node verifies there too. Like every interop test these
FAIL (never skip) without Node.js and the npm packages.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.interop.dbstack_client import INSTALL_HINT, DbStack, DbStackError, missing_requirements
from tests.node.test_issuing_support import issue, post_json, status_index

pytestmark = pytest.mark.interop

HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.fixture(scope="module")
def js() -> Iterator[DbStack]:
    problems = missing_requirements()
    if problems:
        pytest.fail("the JS stack cannot start: " + "; ".join(problems) + f". {INSTALL_HINT}")
    try:
        stack = DbStack()
    except DbStackError as exc:
        pytest.fail(f"the JS stack did not start: {exc}. {INSTALL_HINT}")
    yield stack
    stack.close()


def bit(status_list: dict[str, Any], index: int) -> int:
    """The status bit at ``index``, decoded with the standard library only."""
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    data = encoded[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    assert len(raw) * 8 >= 131_072
    return (raw[index // 8] >> (7 - index % 8)) & 1


async def fetch_list(node: Any, url: str) -> dict[str, Any]:
    async with node.session.get(node.url("/status/" + url.rsplit("/", 1)[1])) as response:
        assert response.status == 200
        return dict(await response.json(content_type=None))


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_issued_credential_and_status_list_verify_in_the_js_stack(node, js):
    body = await issue(node, email="ada@example.org", subjectId=HOLDER)
    credential = body["credential"]
    did_documents = {node.did: node.service("identity").did_document()}

    result = js.verify(credential, didDocuments=did_documents, now=now_text())
    assert result["verified"], result["errors"]

    url, index = status_index(credential)
    listed = await fetch_list(node, url)
    result = js.verify(listed, didDocuments=did_documents, now=now_text())
    assert result["verified"], result["errors"]
    assert listed["issuer"] == credential["issuer"]["id"]
    assert bit(listed, index) == 0

    status, _, text = await post_json(node, f"/api/credentials/{body['id']}/revoke", {})
    assert status == 200, text
    revoked = await fetch_list(node, url)
    result = js.verify(revoked, didDocuments=did_documents, now=now_text())
    assert result["verified"], result["errors"]
    assert bit(revoked, index) == 1
    # a tampered list does not verify there either
    forged = dict(revoked, credentialSubject=dict(listed["credentialSubject"]))
    assert not js.verify(forged, didDocuments=did_documents, now=now_text())["verified"]


async def test_holder_copy_derives_and_verifies_in_the_js_stack(node, js):
    # with a subject id the hashed e-mail is selectable (without one it is mandatory)
    body = await issue(node, email="ada@example.org", subjectId=HOLDER)
    holder_copy = body["holderCredential"]
    did_documents = {node.did: node.service("identity").did_document()}
    # the base proof is for the holder only
    assert not js.call("verifySd", credential=holder_copy, didDocuments=did_documents)["verified"]

    derived = js.call(
        "derive",
        credential=holder_copy,
        selectivePointers=["/credentialSubject/identifier/0"],
        didDocuments=did_documents,
    )["derived"]
    assert derived["credentialSubject"]["identifier"][0]["identityType"] == "emailAddress"
    result = js.call("verifySd", credential=derived, didDocuments=did_documents, now=now_text())
    assert result["verified"], result["errors"]

    # a disclosure derived by the node verifies in the JS stack too
    status, ours, text = await post_json(
        node,
        "/credentials/derive",
        {"verifiableCredential": holder_copy, "options": {"selectivePointers": []}},
        headers={},
    )
    assert status == 201, text
    assert "identifier" not in ours["credentialSubject"]
    assert ours["credentialSubject"]["id"] == HOLDER
    result = js.call("verifySd", credential=ours, didDocuments=did_documents, now=now_text())
    assert result["verified"], result["errors"]
