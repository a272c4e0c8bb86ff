"""The chart of a bench report, as SVG (no plotting library: the figures are few)."""

import math
from xml.sax.saxutils import escape

COLOURS = {
    "echo": "#8c8c8c",
    "function": "#d9480f",
    "bare": "#f59f00",
    "node": "#1c7ed6",
    "python": "#2f9e44",
}
WIDTH, LABEL, BAR, GAP = 960, 300, 16, 6


def draw(report, path):
    figures, labels = report["figures"], report["labels"]
    keys = list(figures)
    parts, y = [], 30
    parts.append(text(20, y, "provision-tenant: start-up and cost per contender", 18, "bold"))
    y += 30
    y = panel(
        parts,
        y,
        "Init: spawn to first poll (ms, log scale)",
        [(k, [("", figures[k]["init_ms"])]) for k in keys],
        labels,
        log=True,
    )
    y = panel(
        parts,
        y,
        "CPU per warm invocation (ms on CPU, all threads): sign-up | token",
        [(k, [("sign-up", figures[k]["cpu_sign_up_ms"]), ("token", figures[k]["cpu_token_ms"])]) for k in keys],
        labels,
    )

    def tls_bars(figure, prefix):
        return [
            ("init", figure[f"{prefix}init_ms"]),
            ("1st sign-up", figure[f"{prefix}first_ms"]),
            ("2nd", figure[f"{prefix}second_ms"]),
        ]

    tls_rows = [(k, tls_bars(figures[k], "tls_")) for k in keys]
    if "tls_no_connect_first_ms" in figures.get("function", {}):
        tls_rows.insert(keys.index("function") + 1, ("function", tls_bars(figures["function"], "tls_no_connect_")))
    y = panel(
        parts,
        y,
        "A fresh process over TLS: init, first and second sign-up (ms, log scale)",
        tls_rows,
        labels,
        log=True,
        second_label="without connecting during init",
    )
    settings = report["settings"]
    parts.append(text(20, y + 4, f"{report['machine']} · {report['date']} · {report['command']}", 11, fill="#555"))
    parts.append(
        text(
            20,
            y + 20,
            f"{settings['runs']} run(s), medians; {settings['cold_starts']} fresh starts and "
            f"{settings['warm_invocations']} warm invocations per contender and run",
            11,
            fill="#555",
        )
    )
    height = y + 36
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">'
        f'<rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>\n'
    )
    with open(path, "w") as f:
        f.write(svg)


def panel(parts, y, title, rows, labels, log=False, second_label=None):
    parts.append(text(20, y, title, 14, "bold"))
    y += 14
    values = [value for _, bars in rows for _, value in bars]
    top = max(values) * 1.15
    span = WIDTH - LABEL - 90
    scale = (
        (lambda v: span * math.log10(max(v, 0.1) / 0.1) / math.log10(top / 0.1)) if log else (lambda v: span * v / top)
    )
    seen = set()
    for key, bars in rows:
        label = labels[key]
        if key in seen and second_label:
            label = f"{labels[key]}, {second_label}"
        seen.add(key)
        rows_height = len(bars) * (BAR + 2)
        parts.append(text(LABEL - 8, y + rows_height / 2 + 9, label, 12, anchor="end"))
        for name, value in bars:
            y += 2
            width = max(1.0, scale(value))
            opacity = {"": "1", "sign-up": "1", "init": "1", "1st sign-up": "0.7"}.get(name, "0.45")
            parts.append(
                f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" '
                f'fill="{COLOURS.get(key, "#555")}" fill-opacity="{opacity}"/>'
            )
            caption = f"{value:.2f}" if value < 10 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"
            parts.append(text(LABEL + width + 5, y + BAR - 3, f"{caption}{' ' + name if name else ''}", 11))
            y += BAR
        y += GAP
    return y + 24


def text(x, y, content, size, weight="normal", anchor="start", fill="#222"):
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" '
        f'text-anchor="{anchor}" fill="{fill}">{escape(content)}</text>'
    )
