"""First start of a node: data folder, keys, the first admin account and sample achievements.

:func:`init_node` is what ``passeport node init`` (and ``serve`` on an empty folder) runs; the
test fixtures use it too. It writes ``node.toml`` last, so a folder without it is not a node.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .config import CONFIG_FILE, ConfigError, NodeConfig, write_config
from .keystore import create_master_key

__all__ = ["SAMPLE_ACHIEVEMENTS", "InitResult", "default_admin_email", "init_node"]

#: Random bytes of a generated admin password (base64url: 24 characters).
PASSWORD_BYTES = 18

#: Three sample achievements, in English and French (other languages fall back to English).
SAMPLE_ACHIEVEMENTS: tuple[dict[str, Any], ...] = (
    {
        "name": {"en": "Open Science Practitioner", "fr": "Praticien de la science ouverte"},
        "description": {
            "en": "Shares research data and code openly, following the FAIR principles.",
            "fr": "Partage ouvertement ses données et son code de recherche, selon les "
            "principes FAIR.",
        },
        "criteria": {
            "narrative": {
                "en": "Publish one dataset with a persistent identifier and a licence, and "
                "the code that produced your results in a public repository.",
                "fr": "Publier un jeu de données avec un identifiant pérenne et une licence, "
                "et le code ayant produit vos résultats dans un dépôt public.",
            }
        },
        "achievementType": "Badge",
        "alignment": [
            {
                "targetName": "FAIR Guiding Principles",
                "targetUrl": "https://www.go-fair.org/fair-principles/",
                "targetFramework": "GO FAIR",
            }
        ],
        "tag": ["open science", "FAIR", "research data"],
    },
    {
        "name": {"en": "Peer Mentor", "fr": "Mentor pair"},
        "description": {
            "en": "Mentored fellow students for a full term.",
            "fr": "A accompagné d'autres étudiants pendant un semestre complet.",
        },
        "criteria": {
            "narrative": {
                "en": "Hold at least eight mentoring sessions during one term and submit a "
                "short reflection.",
                "fr": "Tenir au moins huit séances de mentorat pendant un semestre et rendre "
                "une courte réflexion.",
            }
        },
        "achievementType": "CoCurricular",
        "resultDescription": [
            {
                "name": "Sessions held",
                "resultType": "ext:SessionCount",
                "valueMin": "8",
            }
        ],
        "tag": ["mentoring", "community"],
    },
    {
        "name": {"en": "Data Analysis with Python", "fr": "Analyse de données avec Python"},
        "description": {
            "en": "Completed the 30-hour course on data analysis with Python and pandas.",
            "fr": "A suivi le cours de 30 heures d'analyse de données avec Python et pandas.",
        },
        "criteria": {
            "narrative": {
                "en": "Pass the final project with a grade of at least C.",
                "fr": "Réussir le projet final avec une note d'au moins C.",
            }
        },
        "achievementType": "Course",
        "alignment": [
            {
                "targetName": "Python (computer programming)",
                "targetUrl": "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
                "targetFramework": "ESCO",
            }
        ],
        "resultDescription": [
            {
                "name": "Final grade",
                "resultType": "LetterGrade",
                "allowedValue": ["A", "B", "C", "D", "F"],
                "requiredValue": "C",
            }
        ],
        "creditsAvailable": 3,
        "tag": ["python", "data analysis"],
    },
)


@dataclass
class InitResult:
    """What :func:`init_node` made (the password is shown once and never stored in clear)."""

    config: NodeConfig
    did: str
    admin_email: str
    admin_password: str
    achievements: list[str] = field(default_factory=list)

    def login_message(self) -> str:
        """The "how to log in" lines printed after the first start."""
        return (
            f"Staff pages: log in at {self.config.base_url}/staff/login with\n"
            f"  e-mail:   {self.admin_email}\n"
            f"  password: {self.admin_password}\n"
            "This password is shown only once: keep it in a password manager."
        )


def default_admin_email(public_url: str) -> str:
    """``admin@<host of the public URL>``."""
    return f"admin@{urlsplit(public_url).hostname or 'localhost'}"


def _localized_for(sample: dict[str, Any], languages: tuple[str, ...]) -> dict[str, Any]:
    """A sample restricted to the node's languages (English text stands in for the default)."""

    def pick(texts: dict[str, str]) -> dict[str, str]:
        out = {lang: texts[lang] for lang in languages if lang in texts}
        out.setdefault(languages[0], texts["en"])
        return out

    data = dict(sample)
    data["name"] = pick(sample["name"])
    data["description"] = pick(sample["description"])
    data["criteria"] = {"narrative": pick(sample["criteria"]["narrative"])}
    return data


def init_node(
    config: NodeConfig,
    *,
    now: datetime,
    admin_email: str | None = None,
    admin_password: str | None = None,
    samples: bool = True,
) -> InitResult:
    """Create a node's data folder, keys, first admin and sample achievements.

    Raises :class:`ConfigError` when the folder already holds a node, and
    :class:`~node.keystore.KeystoreError` for master-key problems.
    """
    from .app import create_app
    from .appkeys import DB, SERVICES

    config.validate()
    if (config.data_dir / CONFIG_FILE).exists():
        raise ConfigError(f"{config.data_dir}: already holds a node ({CONFIG_FILE} exists)")
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if config.db_path.exists():
        raise ConfigError(
            f"{config.db_path}: a database exists without {CONFIG_FILE} (an interrupted init?); "
            "move the folder away and run init again"
        )
    if not config.master_key_path.exists():
        create_master_key(config.master_key_path)
    email = admin_email or default_admin_email(config.public_url)
    password = admin_password or secrets.token_urlsafe(PASSWORD_BYTES)
    app = create_app(config)
    try:
        identity = app[SERVICES]["identity"]
        identity.ensure_keys(now)
        try:
            app[SERVICES]["auth"].create_staff(email, password, role="admin", now=now)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        created = []
        if samples:
            achievements = app[SERVICES]["achievements"]
            for sample in SAMPLE_ACHIEVEMENTS:
                record = achievements.create(
                    _localized_for(sample, config.languages), now=now, created_by="init"
                )
                created.append(record["id"])
        did = identity.default_issuer()
    finally:
        app[DB].conn.close()
    write_config(config)
    return InitResult(
        config=config,
        did=did,
        admin_email=email.strip().lower(),
        admin_password=password,
        achievements=created,
    )
