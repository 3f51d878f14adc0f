"""Which outlines of a feed list become new [[feeds]], and why the others do not.

Pure: outlines and the configured feeds in, decisions out. An outline is left out when
it has no xmlUrl (an empty folder, a search folder's rule, a link), when its URL is not
http(s) (a search folder's "vfolder"), or when the config (or an earlier outline
of the same file) already has its URL; URLs are compared without regard to http/https,
the host's case, a default port or a #fragment. A name already taken is made unique
("BBC World (2)"), as config names must be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from watchers.config.opml import FOLDER_KINDS, Outline
from watchers.models import Feed


@dataclass(frozen=True)
class Added:
    """An outline that becomes a [[feeds]] table."""

    name: str
    url: str
    note: str = ""  # why the name differs from the outline's


@dataclass(frozen=True)
class LeftOut:
    """An outline that does not, and why."""

    outline: Outline
    reason: str


@dataclass(frozen=True)
class ImportPlan:
    added: tuple[Added, ...]
    left_out: tuple[LeftOut, ...]


def plan_import(outlines: Sequence[Outline], feeds: Sequence[Feed], config_name: str) -> ImportPlan:
    """Decide, outline by outline, what an import adds to a config holding `feeds`."""
    known = {url_key(f.url): f"already in {config_name} as {f.name!r}" for f in feeds}
    names = {f.name.casefold() for f in feeds}
    added, left_out = [], []
    for outline in outlines:
        reason = _refusal(outline, known)
        if reason:
            left_out.append(LeftOut(outline, reason))
            continue
        name, note = _unique_name(outline, names)
        names.add(name.casefold())
        known[url_key(outline.url)] = f"listed twice in this file (first as {name!r})"
        added.append(Added(name, outline.url, note))
    return ImportPlan(tuple(added), tuple(left_out))


def _refusal(outline: Outline, known: dict[str, str]) -> str:
    """Why this outline cannot be added, or ""."""
    if not outline.url:
        return f"no xmlUrl{_kind_note(outline.kind)}"
    parts = urlsplit(outline.url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {outline.url}{_kind_note(outline.kind)}"
    return known.get(url_key(outline.url), "")


def _kind_note(kind: str) -> str:
    """' (type="vfolder")' for outline types that are not feeds or folders."""
    return "" if kind in (*FOLDER_KINDS, "rss", "atom") else f' (type="{kind}")'


def _unique_name(outline: Outline, taken: set[str]) -> tuple[str, str]:
    """The outline's name (its host when it has none), numbered when already taken."""
    base = outline.name or urlsplit(outline.url).hostname or outline.url
    name, number = base, 1
    while name.casefold() in taken:
        number += 1
        name = f"{base} ({number})"
    if name == base:
        return name, "" if outline.name else "the outline has no name: named after its host"
    return name, f"the name {base!r} is taken"


def url_key(url: str) -> str:
    """A feed URL as compared for duplicates: http and https alike, host lower-cased,
    default ports and #fragments dropped."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    return f"//{host}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
