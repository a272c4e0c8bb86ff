"""The chart of a bench report, as SVG (no plotting library: the figures are few)."""

import math
import re
from xml.sax.saxutils import escape

COLOURS = {
    "echo": "#8c8c8c",
    "function": "#d9480f",
    "bare": "#f59f00",
    "node": "#1c7ed6",
    "python": "#2f9e44",
    "dynamodb": "#5f3dc4",
    "cognito": "#c2255c",
}
WIDTH, LABEL, BAR, GAP = 960, 300, 16, 6
# Bars of one row told apart by their shade: the first of each kind solid.
OPACITY = {"": "1", "sign-up": "1", "init": "1", "1st sign-up": "0.7"}


def colour(key):
    """A row's colour, by its key's first word: "function+X" and "function Lambda at..." are the
    function's."""
    return COLOURS.get(re.split(r"[ +]", key)[0], "#555")


def draw(report, path):
    figures, labels = report["figures"], report["labels"]
    keys = list(figures)
    parts, y = [], 30
    parts.append(text(20, y, "provision-tenant: start-up and cost per contender", 18, "bold"))
    y += 30
    y = panel(
        parts,
        y,
        "Init: exec to first poll (ms, log scale)",
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
    if sizes_readings(settings):
        y = sizes_plot(parts, y, report)
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


def sizes_readings(settings):
    if not settings.get("sizes_mb"):
        return []
    return ["share", "full"] if settings["init_cpu"] == "both" else [settings["init_cpu"]]


def sizes_plot(parts, y, report):
    """At each memory size's CPU share: a cold sign-up (solid) and a cold sign-in (dashed) per
    contender, ms on a log scale against Cognito's 5 s; one plot per reading of init's CPU."""
    figures, labels, settings = report["figures"], report["labels"], report["settings"]
    sizes, readings = settings["sizes_mb"], sizes_readings(settings)
    parts.append(
        text(
            20,
            y,
            "A cold sign-up (solid) and sign-in (dashed) over TLS at Lambda's CPU share (ms, log scale)",
            14,
            "bold",
        )
    )
    y += 16
    width, height, left, top = (WIDTH - 40) / len(readings), 260, 60, y + 24
    values = [
        figures[k]["sizes"][f"{m}/{r}"][f"own_cold_{kind}_ms"]
        for k in figures
        for m in sizes
        for r in readings
        for kind in ("sign_up", "token")
    ]
    low = 10 ** math.floor(math.log10(max(min(values), 0.5)))
    high = 10 ** math.ceil(math.log10(max(max(values), 5000) * 1.2))

    def ypos(v):
        return top + height * (1 - math.log10(max(v, low) / low) / math.log10(high / low))

    for i, reading in enumerate(readings):
        x0 = 20 + i * width + left
        plot_width = width - left - 20
        init = "init under the share" if reading == "share" else "init at the host's full CPU"
        parts.append(text(x0, y + 10, init, 12, "bold"))
        decade = low
        while decade <= high:
            parts.append(
                f'<line x1="{x0}" y1="{ypos(decade):.1f}" x2="{x0 + plot_width}" '
                f'y2="{ypos(decade):.1f}" stroke="#e9ecef"/>'
            )
            parts.append(text(x0 - 6, ypos(decade) + 4, f"{decade:g}", 10, anchor="end", fill="#555"))
            decade *= 10
        parts.append(
            f'<line x1="{x0}" y1="{ypos(5000):.1f}" x2="{x0 + plot_width}" y2="{ypos(5000):.1f}" '
            'stroke="#c92a2a" stroke-dasharray="4 3"/>'
        )
        parts.append(text(x0 + plot_width, ypos(5000) - 4, "Cognito's 5 s", 10, anchor="end", fill="#c92a2a"))

        def xpos(index, x0=x0, plot_width=plot_width):
            return x0 + plot_width * (index + 0.5) / len(sizes)

        for index, memory in enumerate(sizes):
            parts.append(text(xpos(index), top + height + 16, f"{memory} MB", 11, anchor="middle", fill="#555"))
        for key in figures:
            stroke = colour(key)
            for kind, dash in (("sign_up", ""), ("token", ' stroke-dasharray="5 4"')):
                points = [
                    (xpos(index), ypos(figures[key]["sizes"][f"{m}/{reading}"][f"own_cold_{kind}_ms"]))
                    for index, m in enumerate(sizes)
                ]
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
                parts.append(f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="2"{dash}/>')
                for px, py in points:
                    parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{stroke}"/>')
    y = top + height + 34
    x = 20
    for key in figures:  # the legend
        parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{colour(key)}"/>')
        parts.append(text(x + 16, y, labels[key], 11))
        x += 24 + 6.2 * len(labels[key])
    return y + 30


def panel(parts, y, title, rows, labels, log=False, second_label=None, money=False):
    """Horizontal bars, a row of them per contender (coloured by the key's first word); `money`
    captions in US dollars."""
    parts.append(text(20, y, title, 14, "bold"))
    y += 14
    values = [value for _, bars in rows for _, value in bars]
    top = max(values) * 1.15
    span = WIDTH - LABEL - 90
    floor = min([0.1] + [v / 2 for v in values if v > 0])
    scale = (
        (lambda v: span * math.log10(max(v, floor) / floor) / math.log10(top / floor))
        if log
        else (lambda v: span * v / top)
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
            opacity = OPACITY.get(name, "0.45")
            parts.append(
                f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" '
                f'fill="{colour(key)}" fill-opacity="{opacity}"/>'
            )
            if money:
                caption = f"${value:,.3f}" if value < 1 else f"${value:,.2f}" if value < 100 else f"${value:,.0f}"
            else:
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


if __name__ == "__main__":
    # Redraws a report's charts: python3 bench/chart.py startup.json startup.svg [cost.svg]
    import json
    import sys

    import cost

    with open(sys.argv[1]) as stream:
        saved = json.load(stream)
    draw(saved, sys.argv[2])
    if len(sys.argv) > 3:
        cost.draw(saved, sys.argv[3])
