"""Achievements: create, edit (versions), retire, the public OB JSON, validation errors."""

from __future__ import annotations

import base64

import pytest

from node.achievements import MAX_IMAGE_BYTES, check_with_protocol
from protocol.ob import OB_CONTEXT_3_0_3, VC_CONTEXT_V2

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
ESCO_PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"

FULL = {
    "name": {"en": "Data Steward", "fr": "Gestionnaire de données"},
    "description": {"en": "Looks after research data.", "fr": "Prend soin des données."},
    "criteria": {
        "narrative": {"en": "Write a data management plan.", "fr": "Rédiger un PGD."},
        "id": "https://example.org/criteria/data-steward",
    },
    "image": "data:image/png;base64," + base64.b64encode(PNG).decode(),
    "alignments": [
        {
            "targetName": "Python (computer programming)",
            "targetUrl": ESCO_PYTHON,
            "targetFramework": "ESCO",
            "targetCode": "ccd0a1d9",
        }
    ],
    "resultDescriptions": [
        {"name": "Grade", "resultType": "LetterGrade", "allowedValue": ["A", "B", "C"]}
    ],
    "tags": ["data", "research", "data"],
    "achievementType": "Competency",
    "creditsAvailable": 2.5,
}


async def _post(node, data, status=201):
    async with node.session.post(node.url("/api/achievements"), json=data, headers=node.auth) as r:
        body = await r.json(content_type=None)
        assert r.status == status, body
        return body


async def _public(node, achievement_id, **params):
    headers = params.pop("headers", {})
    async with node.session.get(
        node.url(f"/achievements/{achievement_id}"), params=params, headers=headers
    ) as r:
        assert r.status == 200, await r.text()
        return r, await r.json()


async def test_create_get_and_public_ob_json(node):
    record = await _post(node, FULL)
    assert record["version"] == 1 and not record["retired"]
    url = f"{node.public_url}/achievements/{record['id']}"
    assert record["url"] == url
    response, doc = await _public(node, record["id"])
    assert "max-age" in response.headers["Cache-Control"]
    assert doc["@context"] == [VC_CONTEXT_V2, OB_CONTEXT_3_0_3]
    assert doc["id"] == url and doc["type"] == ["Achievement"]
    assert doc["name"] == "Data Steward" and doc["inLanguage"] == "en"
    assert doc["criteria"] == {
        "id": "https://example.org/criteria/data-steward",
        "narrative": "Write a data management plan.",
    }
    assert doc["image"]["type"] == "Image" and doc["image"]["id"].startswith("data:image/png")
    assert doc["alignment"] == [
        {
            "type": ["Alignment"],
            "targetName": "Python (computer programming)",
            "targetUrl": ESCO_PYTHON,
            "targetFramework": "ESCO",
            "targetCode": "ccd0a1d9",
        }
    ]
    assert doc["resultDescription"][0]["id"] == f"{url}#result-1"
    assert doc["tag"] == ["data", "research"]
    assert doc["achievementType"] == "Competency" and doc["creditsAvailable"] == 2.5
    assert doc["version"] == "1"
    check_with_protocol({k: v for k, v in doc.items() if k != "@context"})
    # Language variants: ?lang= and Accept-Language.
    _, fr = await _public(node, record["id"], lang="fr")
    assert fr["name"] == "Gestionnaire de données" and fr["inLanguage"] == "fr"
    assert fr["criteria"]["narrative"] == "Rédiger un PGD."
    response, fr2 = await _public(node, record["id"], headers={"Accept-Language": "fr-CA, en"})
    assert fr2["inLanguage"] == "fr" and response.headers["Content-Language"] == "fr"
    # The service hands out the same JSON (without @context), by id or by URL.
    service = node.service("achievements")
    assert service.get(url) == {k: v for k, v in doc.items() if k != "@context"}
    assert service.get(record["id"], language="fr")["name"] == "Gestionnaire de données"


async def test_edit_makes_versions_and_retire_freezes(node):
    record = await _post(node, FULL)
    changed = {**FULL, "name": {"en": "Data Steward II", "fr": "Gestionnaire II"}}
    path = node.url(f"/api/achievements/{record['id']}")
    async with node.session.put(path, json=changed, headers=node.auth) as r:
        assert r.status == 200, await r.text()
        updated = await r.json()
    assert updated["version"] == 2 and [v["version"] for v in updated["versions"]] == [1, 2]
    _, doc = await _public(node, record["id"])
    assert doc["name"] == "Data Steward II" and doc["version"] == "2"
    _, old = await _public(node, record["id"], version="1")
    assert old["name"] == "Data Steward" and old["version"] == "1"
    async with node.session.post(path + "/retire", headers=node.auth) as r:
        assert (await r.json())["retired"] is True
    async with node.session.put(path, json=changed, headers=node.auth) as r:
        assert r.status == 409
    _, still = await _public(node, record["id"])  # old badges still resolve
    assert still["version"] == "2"
    async with node.session.get(node.url("/api/achievements"), headers=node.auth) as r:
        active = [a["id"] for a in (await r.json())["achievements"]]
    async with node.session.get(
        node.url("/api/achievements"), params={"retired": "1"}, headers=node.auth
    ) as r:
        every = [a["id"] for a in (await r.json())["achievements"]]
    assert record["id"] not in active and record["id"] in every
    assert node.service("achievements").is_retired(record["id"])


async def test_samples_are_seeded_and_valid(node):
    service = node.service("achievements")
    listed = service.list()
    assert len(listed) == 3 and {a["id"] for a in listed} == set(node.samples)
    for achievement_id in node.samples:
        for language in ("en", "fr"):
            check_with_protocol(service.get(achievement_id, language=language))


async def test_unknown_achievements_are_404(node):
    async with node.session.get(node.url("/achievements/nope")) as r:
        assert r.status == 404 and r.content_type == "application/problem+json"
    async with node.session.get(node.url("/api/achievements/nope"), headers=node.auth) as r:
        assert r.status == 404
    async with node.session.get(
        node.url(f"/achievements/{node.samples[0]}"), params={"version": "9"}
    ) as r:
        assert r.status == 404


BASE = {"name": "N", "description": "D", "criteria": {"narrative": "C"}}


def _svg(body: str) -> str:
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">{body}</svg>'
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": None}, "name", "required"),
        ({"name": {"fr": "Seulement"}}, "name.en", "default language (en) is required"),
        ({"name": {"de": "Nur"}}, "name.de", "not one of this node's languages"),
        ({"name": {"en-!": "x"}}, "name.en-!", "not a language tag"),
        ({"description": 5}, "description", "expected a string or an object"),
        ({"name": "x" * 301}, "name", "longer than 300"),
        ({"criteria": {}}, "criteria", "needs a narrative or an id"),
        ({"criteria": {"id": "not a url"}}, "criteria.id", "not an absolute URL"),
        ({"achievementType": "Trophy"}, "achievementType", "not one of the defined values"),
        ({"image": "data:image/png;base64,AAAA"}, "image", "not a PNG file"),
        ({"image": "data:image/gif;base64,R0lGOD"}, "image", "image/png or image/svg+xml"),
        ({"image": "data:image/png;base64,@@@"}, "image", "base64 payload is invalid"),
        ({"image": "http://example.org/badge.png"}, "image", "must be an https URL"),
        ({"image": _svg("<script>alert(1)</script>")}, "image", "<script> element"),
        ({"image": _svg('<a href="https://evil.example"><rect/></a>')}, "image", "links outside"),
        ({"image": _svg('<rect onload="x()"/>')}, "image", "event handler"),
        (
            {"image": "data:image/svg+xml;base64," + base64.b64encode(b"<x/>").decode()},
            "image",
            "root element is not <svg>",
        ),
        ({"alignment": [{"targetName": "x"}]}, "alignment[0].targetUrl", "expected a URL"),
        ({"alignment": "x"}, "alignment", "expected a list"),
        ({"resultDescription": [{"name": "g"}]}, "resultDescription[0].resultType", "required"),
        ({"tag": [""]}, "tag[0]", "must not be empty"),
        ({"creditsAvailable": -1}, "creditsAvailable", "non-negative number"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
async def test_invalid_input_gets_precise_422(node, change, field, message):
    data = {**BASE, **change}
    data = {k: v for k, v in data.items() if v is not None}
    problem = await _post(node, data, status=422)
    assert problem["type"].endswith("/invalid-achievement")
    matching = [e for e in problem["errors"] if e["field"] == field]
    assert matching, problem["errors"]
    assert any(message in e["message"] for e in matching), matching


def test_oversized_images_are_refused():
    from node.achievements import InvalidAchievement, normalize_input

    too_big = PNG + b"\0" * MAX_IMAGE_BYTES
    with pytest.raises(InvalidAchievement) as caught:
        normalize_input(
            {**BASE, "image": "data:image/png;base64," + base64.b64encode(too_big).decode()},
            ("en",),
        )
    assert caught.value.errors == [
        {"field": "image", "message": f"the image is larger than {MAX_IMAGE_BYTES} bytes"}
    ]


async def test_large_bodies_are_read_whole(node):
    image = PNG + b"\0" * (MAX_IMAGE_BYTES - len(PNG) - 10)
    problem = await _post(
        node,
        {**BASE, "image": "data:image/png;base64," + base64.b64encode(image).decode()},
        status=201,
    )
    assert problem["achievement"]["image"]["id"].startswith("data:image/png")


async def test_image_forms(node):
    ok = await _post(node, {**BASE, "image": {"id": "https://example.org/b.png", "caption": "B"}})
    assert ok["achievement"]["image"] == {
        "id": "https://example.org/b.png",
        "type": "Image",
        "caption": "B",
    }
    svg = await _post(node, {**BASE, "image": _svg('<circle r="4" fill="#123"/>')})
    assert svg["achievement"]["image"]["id"].startswith("data:image/svg+xml;base64,")


async def test_non_object_bodies_are_refused(node):
    problem = await _post(node, ["not", "an", "object"], status=422)
    assert problem["errors"] == [{"field": "", "message": "expected a JSON object"}]
