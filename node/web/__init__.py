"""Staff pages: server-rendered jinja2 templates (autoescaped), no JavaScript framework.

Pages: ``/staff/login``, the dashboard ``/staff/`` (achievements), the achievement form
(``/staff/achievements/new``, ``/staff/achievements/{id}/edit``) and retire/logout actions.
Forms carry the session's CSRF token in a hidden ``csrf_token`` field.

Other components add pages with three helpers, callable from their own ``setup(app)``:

* :func:`register_nav` adds an entry to the navigation bar;
* :func:`add_templates` adds a folder of templates (they may ``{% extends "base.html" %}``);
* :func:`render` renders a template with the common context (``principal``, ``csrf_token``,
  ``nav``, ``node_name``, ``lang``), and :func:`require_page_staff` sends anonymous browsers to
  the login page (401 problem for non-browser clients).
"""

from __future__ import annotations

from .pages import (
    NavEntry,
    add_templates,
    register_nav,
    render,
    require_page_staff,
    setup,
)

__all__ = ["NavEntry", "add_templates", "register_nav", "render", "require_page_staff", "setup"]
