"""Every error the wallet raises on bad input or an unusable wallet file.

Each carries a one-line, user-facing ``message``; the CLI prints it and exits non-zero. Foreign
exceptions (PyNaCl, zlib, expat, OSError) are wrapped where they enter the wallet, with ``from``.
"""

from __future__ import annotations

__all__ = [
    "BadPassphrase",
    "ImportRefused",
    "NotFound",
    "StoreCorrupt",
    "WalletCorrupt",
    "WalletError",
    "WalletExists",
    "WalletLocked",
    "WalletMissing",
]


class WalletError(Exception):
    """Base for every wallet error; ``message`` is one line."""

    code = "WALLET_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadPassphrase(WalletError):
    """The passphrase does not open the wallet (or backup) file."""

    code = "BAD_PASSPHRASE"


class WalletCorrupt(WalletError):
    """The wallet or backup file is damaged, truncated, or not a wallet file at all.

    Raised before anything is written: the file on disk is left exactly as it was.
    """

    code = "WALLET_CORRUPT"


#: The name the architecture notes use for the same condition.
StoreCorrupt = WalletCorrupt


class WalletLocked(WalletError):
    """Another process holds the wallet open for writing."""

    code = "WALLET_LOCKED"


class WalletMissing(WalletError):
    """No wallet file at the given path."""

    code = "WALLET_MISSING"


class WalletExists(WalletError):
    """A wallet file already exists where a new one would be created."""

    code = "WALLET_EXISTS"


class NotFound(WalletError):
    """No credential, identity, collection or pathway matches the given id or name."""

    code = "NOT_FOUND"


class ImportRefused(WalletError):
    """An input file cannot be imported: malformed, hostile (a bomb), or holds no credential."""

    code = "IMPORT_REFUSED"
