"""Every typed application key of the node, in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlite_utils import Database

from .config import NodeConfig

__all__ = ["CLOCK", "CONFIG", "DB", "FETCHER", "MAX_BODY", "SERVICES"]

CONFIG = web.AppKey("config", NodeConfig)
DB = web.AppKey("db", Database)
#: Returns the current time (aware, UTC). Tests pass a controllable clock.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
#: The outbound fetcher (``node.fetch.Fetcher``): the only way the node reaches the network.
FETCHER = web.AppKey("fetcher", Any)
MAX_BODY = web.AppKey("max_body", int)
#: Component services by name (``"identity"``, ``"issuing"``...), for components to call each
#: other without importing each other's private state.
SERVICES = web.AppKey("services", dict[str, Any])
