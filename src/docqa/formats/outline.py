"""Sections out of a stream of headings and lines, shared by the HTML and DOCX readers."""

from __future__ import annotations

from docqa.types import Section


class Outline:
    """Collects lines under headings; a heading closes every open heading of its level or deeper.

    Each section's text starts with its heading's title (as a Markdown section starts with its
    heading line), then one line per paragraph, list item or table row.
    """

    def __init__(self) -> None:
        # (heading path, lines, 1 when the first line is the heading's own title)
        self._found: list[tuple[tuple[str, ...], list[str], int]] = [((), [], 0)]
        self._stack: list[tuple[int, str]] = []

    def heading(self, level: int, title: str) -> None:
        """Start a section under ``title`` at ``level`` (0 for a document title, 1 to 6)."""
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        path: tuple[str, ...] = ()
        for _, name in self._stack:
            if name and (not path or path[-1] != name):  # a Title repeated as Heading 1 once
                path += (name,)
        self._found.append((path, [title], 1) if title else (path, [], 0))

    def line(self, text: str) -> None:
        """Add a line (a paragraph, a list item, a table) to the current section."""
        if text.strip():
            self._found[-1][1].append(text)

    def sections(self, title: str = "") -> tuple[Section, ...]:
        """The sections with text beyond their title, in order.

        Args:
            title: The document's title, used as the heading of a document without headings.

        Returns:
            Sections with their heading paths; a heading directly followed by a subheading
            makes no section of its own (its title is in the subsection's path).
        """
        out = [
            Section(text="\n".join(lines), heading=heading)
            for heading, lines, titled in self._found
            if len(lines) > titled
        ]
        if len(self._found) == 1 and out and title:
            out = [Section(text=out[0].text, heading=(title,))]
        return tuple(out)
