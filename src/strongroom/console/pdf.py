"""A plain-text PDF (PDF 1.4) of a report, written by hand: one monospaced standard font
(Courier, which every reader has, so nothing is embedded), lines wrapped to the page,
A4 pages. No library, no image, no script: enough for the breach report's Markdown to be
printed, signed and filed as it reads on screen."""

from __future__ import annotations

import textwrap

WIDTH, HEIGHT = 595, 842  # A4 in points
MARGIN = 48
SIZE = 9  # points
LEADING = 12
COLUMNS = 90  # Courier is 0.6 em wide: 90 x 5.4 pt fits between the margins
ROWS = (HEIGHT - 2 * MARGIN) // LEADING


def text_pdf(text: str, *, title: str = "") -> bytes:
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(line, COLUMNS, break_long_words=True) or [""])
    pages = [lines[i : i + ROWS] for i in range(0, len(lines), ROWS)] or [[]]

    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the pages' numbers are known
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    kids = []
    for number, rows in enumerate(pages, 1):
        stream = _content(rows, number, len(pages))
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, WIDTH, HEIGHT, font, content)
            )
        )
    info = add(b"<< /Title " + _string(title) + b" /Producer (Strongroom) >>")
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (
        len(objects) + 1,
        catalog,
        info,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _content(rows: list[str], number: int, total: int) -> bytes:
    ops = [b"BT", b"/F1 %d Tf" % SIZE, b"%d TL" % LEADING]
    ops.append(b"%d %d Td" % (MARGIN, HEIGHT - MARGIN - SIZE))
    for row in rows:
        ops.append(_string(row) + b" '")
    ops.append(b"ET")
    footer = f"page {number} of {total}"
    ops += [b"BT", b"/F1 8 Tf", b"%d %d Td" % (MARGIN, MARGIN // 2), _string(footer) + b" Tj"]
    ops.append(b"ET")
    return b"\n".join(ops)


def _string(value: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252); what it cannot hold becomes '?'."""
    raw = value.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"
