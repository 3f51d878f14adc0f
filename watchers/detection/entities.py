"""The gazetteer: countries, armed groups, organizations, companies and weapons, with aliases.

Entity kinds (``ENTITY_KINDS``):
    country       every pycountry country, under a common English name ("Russia",
                  "United States", "North Korea"); capitals, institutions and leaders are
                  aliases of their country ("Kremlin", "Pentagon", "Putin").
    armed_group   non-state armed actors (Hezbollah, Houthis, Wagner); ``country`` is their base.
    organization  alliances and bodies acting collectively (NATO, European Union, G7).
    region        loose collectives named in news ("the West", "European nations").
    company       arms makers and exporters; ``country`` is their home (Rheinmetall -> Germany).
    weapon        weapon systems and generic terms; ``category`` below; ``country`` is the
                  country that makes the system (blank for generic terms).

Weapon categories (``WEAPON_CATEGORIES``) follow SIPRI's arms-transfer categories, plus
``drones`` (SIPRI counts them as aircraft; news treats them apart), ``ammunition`` and
``small_arms`` (SIPRI leaves both out), ``nuclear`` (nuclear weapons: in the news mostly
threats, tests and arms control, seldom a transfer, so the learned verdict weighs them
apart) and ``other`` for generic terms ("weapons", "military aid").

In supplier/recipient roles (``actor_of``) a company stands for its country; armed groups,
organizations and regions keep their own name. ``country_of`` gives the country an entity
stands for (an armed group's base, a company's home).

Data live in ``watchers/detection/data/*.tsv`` (countries.tsv, actors.tsv, weapons.tsv), validated
at load: errors name the file and line. Alias syntax: ``stem*`` matches any word starting
with stem (Ukrainian/Russian inflections), ``=US`` matches that exact case only.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pycountry

from watchers.detection.textmatch import Hit, fold_phrase, longest_first
from watchers.errors import ConfigError
from watchers.models import Entity, Mention

WEAPON_CATEGORIES: tuple[str, ...] = (
    "aircraft",
    "drones",
    "air_defence",
    "armoured_vehicles",
    "artillery",
    "missiles",
    "ships",
    "sensors",
    "engines",
    "satellites",
    "ammunition",
    "small_arms",
    "nuclear",
    "other",
)
ENTITY_KINDS: tuple[str, ...] = (
    "country",
    "armed_group",
    "organization",
    "region",
    "company",
    "weapon",
)
ACTOR_KINDS = frozenset(ENTITY_KINDS) - {"weapon"}
DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class _Entry:
    """An entity with where it was defined, for error messages."""

    entity: Entity
    source: str  # "countries.tsv line 12" or "config [[entities]] NAME"
    adjectives: tuple[str, ...] = ()  # demonym aliases ("Iranian"), also in entity.aliases


def read_tsv(path: Path, columns: int) -> Iterable[tuple[str, list[str]]]:
    """Yield (source, fields) for each data line of a TSV file; pad to `columns` fields."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read entity data: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        source = f"{path.name} line {number}"
        if len(fields) > columns or not fields[0]:
            raise ConfigError(f"{source}: expected {columns} tab-separated columns: {line!r}")
        yield source, fields + [""] * (columns - len(fields))


def parse_aliases(field: str | Sequence[str], source: str) -> tuple[str, ...]:
    """Split and validate an alias list ("a|b*|=C")."""
    aliases = field.split("|") if isinstance(field, str) else list(field)
    out = []
    for alias in (a.strip() for a in aliases):
        if not alias:
            continue
        body = alias.lstrip("=").rstrip("*")
        if "*" in body or "=" in body or not fold_phrase(body):
            raise ConfigError(f"{source}: bad alias {alias!r} ('*' only at the end, '=' at start)")
        out.append(alias)
    return tuple(dict.fromkeys(out))


def with_name_alias(name: str, aliases: tuple[str, ...]) -> tuple[str, ...]:
    """Add the canonical name as an alias unless an exact-case form of it is listed."""
    return aliases if f"={name}" in aliases else (name, *aliases)


def load_countries(path: Path) -> list[_Entry]:
    """Every pycountry country, renamed and extended by the curated file."""
    curated = {}
    for source, (code, name, aliases, adjectives, options) in read_tsv(path, 5):
        country = pycountry.countries.get(alpha_2=code.upper())
        if country is None:
            raise ConfigError(f"{source}: unknown country code {code!r}")
        if options not in ("", "manual"):
            raise ConfigError(f"{source}: unknown option {options!r} (only 'manual')")
        curated[country.alpha_2] = (source, name, aliases, adjectives, options)
    entries = []
    for country in pycountry.countries:
        default = (path.name, "", "", "", "")
        source, name, aliases, adjectives, options = curated.get(country.alpha_2, default)
        name = name or getattr(country, "common_name", None) or country.name
        adjective_list = parse_aliases(adjectives, source)
        listed = parse_aliases(aliases, source) + adjective_list
        if options != "manual":
            listed = with_name_alias(name, listed) + pycountry_names(country)
        entity = Entity(name, "country", tuple(dict.fromkeys(listed)), code=country.alpha_2)
        entries.append(_Entry(entity, source, adjective_list))
    return entries


def pycountry_names(country: object) -> tuple[str, ...]:
    """The library's names of a country that read as plain names (no "Korea, Republic of")."""
    names = (getattr(country, k, None) for k in ("name", "common_name", "official_name"))
    return tuple(n for n in names if n and "," not in n and "(" not in n)


def load_actors(path: Path) -> list[_Entry]:
    """Armed groups, organizations, regions and companies."""
    entries = []
    for source, (name, kind, country, aliases) in read_tsv(path, 4):
        if kind not in ACTOR_KINDS or kind == "country":
            raise ConfigError(f"{source}: bad kind {kind!r} for {name!r}")
        listed = with_name_alias(name, parse_aliases(aliases, source))
        entries.append(_Entry(Entity(name, kind, listed, country or None), source))
    return entries


def load_weapons(path: Path) -> list[_Entry]:
    """Weapon systems and generic terms with their category and maker country."""
    entries = []
    for source, (name, category, origin, aliases) in read_tsv(path, 4):
        if category not in WEAPON_CATEGORIES:
            raise ConfigError(f"{source}: unknown weapon category {category!r} for {name!r}")
        listed = with_name_alias(name, parse_aliases(aliases, source))
        entity = Entity(name, "weapon", listed, origin or None, category)
        entries.append(_Entry(entity, source))
    return entries


@functools.lru_cache(maxsize=4)
def load_builtin(data_dir: Path = DATA_DIR) -> tuple[_Entry, ...]:
    """The built-in entities from the data files (read once per directory)."""
    return tuple(
        load_countries(data_dir / "countries.tsv")
        + load_actors(data_dir / "actors.tsv")
        + load_weapons(data_dir / "weapons.tsv")
    )


def merge_entries(entries: Iterable[_Entry]) -> dict[str, _Entry]:
    """Entries by canonical name; a second built-in entry of one name is an error."""
    merged: dict[str, _Entry] = {}
    for entry in entries:
        name = entry.entity.name
        if name in merged:
            raise ConfigError(f"{entry.source}: {name!r} already defined at {merged[name].source}")
        merged[name] = entry
    return merged


def apply_extra(merged: dict[str, _Entry], extra: Sequence[Entity]) -> None:
    """Add user entities; one with an existing name extends or overrides it."""
    for user in extra:
        source = f"config [[entities]] {user.name}"
        aliases = parse_aliases(user.aliases, source)
        old = merged.get(user.name)
        if old is None:
            entity = replace(user, aliases=with_name_alias(user.name, aliases))
        else:
            base = old.entity
            entity = replace(
                base,
                kind=user.kind or base.kind,
                country=user.country or base.country,
                category=user.category or base.category,
                aliases=tuple(dict.fromkeys(base.aliases + aliases)),
            )
        merged[user.name] = _Entry(entity, source)


def check_entity(entry: _Entry, names: Mapping[str, _Entry]) -> None:
    """Raise ConfigError if an entity's kind, category or country is invalid."""
    entity, source = entry.entity, entry.source
    if entity.kind not in ENTITY_KINDS:
        raise ConfigError(f"{source}: unknown kind {entity.kind!r} (one of {ENTITY_KINDS})")
    if entity.kind == "weapon" and entity.category not in WEAPON_CATEGORIES:
        raise ConfigError(f"{source}: weapon {entity.name!r} needs a category {WEAPON_CATEGORIES}")
    home = names.get(entity.country or "")
    if entity.country and (home is None or home.entity.kind != "country"):
        raise ConfigError(f"{source}: {entity.name!r} has unknown country {entity.country!r}")


def alias_key(alias: str) -> str:
    """How the matcher sees an alias: exactness, folded text, stem marker."""
    exact = "=" if alias.startswith("=") else ""
    stem = "*" if alias.endswith("*") else ""
    body = alias.lstrip("=").rstrip("*")
    return exact + (body.strip() if exact else fold_phrase(body)) + stem


def index_aliases(entries: Mapping[str, _Entry]) -> dict[str, str]:
    """Alias key -> canonical name; one alias on two entities is a ConfigError."""
    owner: dict[str, _Entry] = {}
    for entry in entries.values():
        for alias in entry.entity.aliases:
            key = alias_key(alias)
            other = owner.setdefault(key, entry)
            if other.entity.name != entry.entity.name:
                raise ConfigError(
                    f"{entry.source}: alias {alias!r} of {entry.entity.name!r} already names "
                    f"{other.entity.name!r} ({other.source})"
                )
    return {key: entry.entity.name for key, entry in owner.items()}


class Gazetteer:
    """Entities by canonical name, their aliases as matcher phrases, and role lookups."""

    def __init__(self, entities: Mapping[str, Entity], adjectives: Iterable[str] = ()):
        self.entities: Mapping[str, Entity] = dict(entities)
        self.adjectives = frozenset(fold_phrase(a.lstrip("=").rstrip("*")) for a in adjectives)

    @classmethod
    def load(cls, extra: Sequence[Entity] = ()) -> Gazetteer:
        """Built-in data files plus user entities; raise ConfigError on bad data."""
        merged = merge_entries(load_builtin())
        apply_extra(merged, extra)
        for entry in merged.values():
            check_entity(entry, merged)
        index_aliases(merged)
        adjectives = [a for entry in merged.values() for a in entry.adjectives]
        return cls({name: entry.entity for name, entry in merged.items()}, adjectives)

    def phrases(self) -> Iterable[tuple[str, Hashable]]:
        """(alias, ("entity", canonical_name)) pairs for the shared PhraseMatcher."""
        for name, entity in self.entities.items():
            for alias in entity.aliases:
                yield alias, ("entity", name)

    def mentions(self, hits: Sequence[Hit]) -> list[Mention]:
        """Entity mentions from the shared matcher's hits, longest first, in text order
        (the text of each is the folded phrase; callers wanting the original slice it)."""
        return [
            Mention(entity.name, entity.kind, hit.start, hit.end, hit.phrase)
            for entity, hit in self.entity_hits(hits)
        ]

    def entity_hits(self, hits: Sequence[Hit]) -> list[tuple[Entity, Hit]]:
        """The hits that are entity mentions, with their entity: longest first, one per
        span, in text order."""
        mine = [h for h in hits if isinstance(h.key, tuple) and h.key[0] == "entity"]
        found: dict[tuple[int, int], tuple[Entity, Hit]] = {}
        for hit in longest_first(mine):
            entity = self.entities.get(hit.key[1])
            if entity is not None and (hit.start, hit.end) not in found:
                found[hit.start, hit.end] = (entity, hit)
        return list(found.values())

    def is_adjective(self, phrase: str) -> bool:
        """Whether a mention's folded phrase names its country by a demonym ("Iranian",
        "російськ*")."""
        return phrase in self.adjectives

    def flag(self, name: str) -> str:
        """The flag emoji of a country ("🇮🇷" for Iran), or "" for anything else."""
        entity = self.entities.get(name)
        if entity is None or not entity.code:
            return ""
        return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in entity.code.upper())

    def get(self, name: str) -> Entity | None:
        """The entity of that canonical name, or None."""
        return self.entities.get(name)

    def country_of(self, name: str) -> str | None:
        """The country an entity stands for: itself, an armed group's base, a company's home."""
        entity = self.entities.get(name)
        if entity is None or entity.kind in ("weapon", "organization", "region"):
            return None
        return entity.name if entity.kind == "country" else entity.country

    def actor_of(self, name: str) -> str | None:
        """The name an entity takes in supplier/recipient roles (companies -> country)."""
        entity = self.entities.get(name)
        if entity is None or entity.kind == "weapon":
            return None
        if entity.kind == "company":
            return entity.country or entity.name
        return entity.name
