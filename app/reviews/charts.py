"""Charts drawn on the server as inline SVG: no script, no CDN, readable when printed in black and
white (the previous period is hatched grey, the current solid)."""
from __future__ import annotations

from markupsafe import Markup, escape

BAR_H, GAP, LABEL_W, WIDTH = 14, 10, 170, 560


def compare_bars(title: str, rows: list[tuple[str, int, int]], current: str, previous: str, number: int = 0) -> Markup:
    """Horizontal bars: for each label, this period above the previous one. `number` keeps the
    hatch pattern's id unique on a page with several charts."""
    hatch = f"hatch-{number}"
    top = max([1] + [max(a, b) for _, a, b in rows])
    span = WIDTH - LABEL_W - 50
    height = 40 + len(rows) * (2 * BAR_H + GAP) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}"><title>{escape(title)}</title>',
             f'<defs><pattern id="{hatch}" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
             '<rect width="4" height="4" fill="#fff"/><line x1="0" y1="0" x2="0" y2="4" stroke="#777" stroke-width="2"/>'
             '</pattern></defs>',
             f'<rect x="{LABEL_W}" y="6" width="12" height="10" fill="#1f5f99"/>'
             f'<text x="{LABEL_W + 16}" y="15" font-size="11">{escape(current)}</text>'
             f'<rect x="{LABEL_W + 170}" y="6" width="12" height="10" fill="url(#{hatch})" stroke="#777"/>'
             f'<text x="{LABEL_W + 186}" y="15" font-size="11">{escape(previous)}</text>']
    for index, (label, now, before) in enumerate(rows):
        y = 30 + index * (2 * BAR_H + GAP)
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H + 4}" font-size="12" text-anchor="end">{escape(label)}</text>')
        for offset, value, fill in ((0, now, 'fill="#1f5f99"'), (BAR_H, before, f'fill="url(#{hatch})" stroke="#777"')):
            width = round(span * value / top, 1)
            parts.append(f'<rect x="{LABEL_W}" y="{y + offset}" width="{width}" height="{BAR_H - 2}" {fill}/>'
                         f'<text x="{LABEL_W + width + 4}" y="{y + offset + BAR_H - 4}" font-size="11">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def risk_grid(matrix: dict, labels: dict[str, str]) -> Markup:
    """The 5×5 grid: likelihood across, loss up; each cell lists the categories placed there."""
    cell, left, bottom = 124, 60, 40
    size = 5 * cell
    shade = {range(1, 5): "#e6f4ea", range(5, 10): "#fff4ce", range(10, 15): "#fde2c8", range(15, 26): "#f8cfcb"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart risk" viewBox="0 0 {left + size + 10} '
             f'{size + bottom + 10}" width="{left + size + 10}" height="{size + bottom + 10}">'
             '<title>リスクマトリクス（発生の可能性 × 発生時の損失）</title>']
    for likelihood in range(1, 6):
        for loss in range(1, 6):
            x, y = left + (likelihood - 1) * cell, 5 + (5 - loss) * cell
            fill = next(color for span, color in shade.items() if likelihood * loss in span)
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#555"/>')
            for line, code in enumerate(matrix["cells"].get(f"{likelihood}-{loss}", [])):
                parts.append(f'<text x="{x + 5}" y="{y + 18 + 15 * line}" font-size="12">{escape(labels.get(code, code))}</text>')
    for n in range(1, 6):
        parts.append(f'<text x="{left + (n - 0.5) * cell}" y="{size + 22}" font-size="12" text-anchor="middle">{n}</text>')
        parts.append(f'<text x="{left - 8}" y="{5 + (5 - n + 0.5) * cell}" font-size="12" text-anchor="end">{n}</text>')
    parts.append(f'<text x="{left + size / 2}" y="{size + 40}" font-size="12" text-anchor="middle">発生の可能性 →</text>')
    parts.append(f'<text x="14" y="{5 + size / 2}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {5 + size / 2})">発生時の損失 →</text></svg>')
    return Markup("".join(parts))
