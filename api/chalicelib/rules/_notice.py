"""The notice's text split by section, so a citation can be resolved to its words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.rules._model import Serialisable

_CITE = re.compile(
    r"(?P<part>[一二三四])"
    r"(?:\.(?=.)(?:\((?P<subpart>[一二三四五六七八九十]+)\))?(?P<item>\d+)?(?:\((?P<subitem>\d+)\))?)?"
)
_PART_HEADING = re.compile(r"([一二三四])、")
_SUBPART_HEADING = re.compile(r"（([一二三四五六七八九十]+)）")
_ITEM_HEADING = re.compile(r"(\d+)\.")
_SUBITEM_HEADING = re.compile(r"（(\d+)）")


@dataclass(frozen=True)
class Cite:
    """A parsed citation such as ``二.(二)1(2)``; absent levels are ``None``."""

    part: str
    subpart: str | None
    item: int | None
    subitem: int | None

    @classmethod
    def parse(cls, text: str) -> Cite:
        """Parse the cite grammar described in the rules file's header."""
        match = _CITE.fullmatch(text)
        if not match:
            raise ValueError(f"not a citation: {text!r}")
        item, subitem = match["item"], match["subitem"]
        return cls(
            match["part"],
            match["subpart"],
            int(item) if item else None,
            int(subitem) if subitem else None,
        )


@dataclass(frozen=True)
class Paragraph(Serialisable):
    """One non-empty line of the notice's body and the section it belongs to."""

    part: str
    subpart: str | None
    item: int | None
    subitem: int | None
    text: str

    def within(self, cite: Cite) -> bool:
        """Whether this paragraph is part of the cited section."""
        # The sub-part must match exactly: "二.1" must not silently mean "二.(二)1".
        return (
            self.part == cite.part
            and self.subpart == cite.subpart
            and cite.item in (None, self.item)
            and cite.subitem in (None, self.subitem)
        )


def _cite_of(part: str, subpart: str | None, item: int | None, subitem: int | None) -> str:
    """The citation of a location, in the grammar ``Cite.parse`` reads."""
    rest = "".join((f"({subpart})" if subpart else "", str(item) if item else "",
                    f"({subitem})" if subitem else ""))
    return f"{part}.{rest}" if rest else part


def split_sections(text: str) -> tuple[Paragraph, ...]:
    """Split the notice's body (from the heading 一、 on) into located paragraphs."""
    paragraphs: list[Paragraph] = []
    part: str | None = None
    subpart: str | None = None
    item: int | None = None
    subitem: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if heading := _PART_HEADING.match(line):
            part, subpart, item, subitem = heading[1], None, None, None
        elif part is None or not line:
            continue
        elif heading := _SUBPART_HEADING.match(line):
            subpart, item, subitem = heading[1], None, None
        elif heading := _ITEM_HEADING.match(line):
            item, subitem = int(heading[1]), None
        elif heading := _SUBITEM_HEADING.match(line):
            subitem = int(heading[1])
        paragraphs.append(Paragraph(part, subpart, item, subitem, line))
    return tuple(paragraphs)


@dataclass(frozen=True)
class Notice(Serialisable):
    """The notice the rules implement: its title, file, digest and sections."""

    title_zh: str
    title_en: str
    file: str
    sha256: str
    paragraphs: tuple[Paragraph, ...]

    def leaf_clauses(self) -> tuple[str, ...]:
        """The citations of the sections with no sub-sections, in the notice's order:
        what the project implements or excludes, one by one."""
        locations: list[tuple[str, str | None, int | None, int | None]] = []
        for paragraph in self.paragraphs:
            location = (paragraph.part, paragraph.subpart, paragraph.item, paragraph.subitem)
            if location not in locations:
                locations.append(location)

        def deeper(inner: tuple[object, ...], outer: tuple[object, ...]) -> bool:
            return inner != outer and all(level is None or level == other
                                          for level, other in zip(outer, inner, strict=True))

        return tuple(_cite_of(*location) for location in locations
                     if not any(deeper(other, location) for other in locations))

    def cited_text(self, cite: str) -> str:
        """Return the words of the cited section, one paragraph per line."""
        parsed = Cite.parse(cite)
        found = [paragraph.text for paragraph in self.paragraphs if paragraph.within(parsed)]
        if not found:
            raise KeyError(f"the notice has no section {cite}")
        return "\n".join(found)
