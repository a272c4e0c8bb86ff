"""What a sign-up and a sign-in cost on AWS: the bench's billed durations at each memory size,
priced with AWS's public prices, beside DynamoDB's units and Cognito's monthly active users.

Prices are US East (N. Virginia), on-demand, read on the date in PRICES from the pages in
SOURCES (where AWS's own page draws its table in the browser, a dated third-party copy of it;
docs/benchmarks.md says which). Check them against the live pricing pages before relying on them.
"""

import math

from chart import WIDTH, panel, text

PRICES = {
    "read_on": "2026-12-07",
    "region": "US East (N. Virginia)",
    # Lambda: per GB-second of billed duration (the first tier), and per request.
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "lambda_request": 0.20 / 1e6,
    # DynamoDB on demand: per write and per read request unit.
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    # Cognito user pools: per monthly active user above the first 10,000 (the first band).
    "cognito_mau": {"LITE": 0.0055, "ESSENTIALS": 0.015},
}
SOURCES = {
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "lambda_init_billed": "https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "dynamodb_units": "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html",
    "cognito": "https://aws.amazon.com/cognito/pricing/",
}
# What one sign-up and one sign-in ask of DynamoDB (docs/teams.md): a transaction of four new
# items, each under 1 KB, at two write units each ("Transactional write requests require 2 write
# request units ... for items up to 1 KB"); a strongly consistent Query of the user's partition,
# its items summed and rounded up to 4 KB: one read unit up to about twenty memberships.
# Lambda bills the function's whole duration, waits included. Here the waits are the stand-ins'
# (moto and cognito-local, Python on the same two cores, far slower than the services): the bench
# measures the function's own part at each size and this adds an allowance per call for the
# services on AWS, the same at every size (an assumption, not a measurement: "single-digit
# millisecond" is DynamoDB's own claim; Cognito's admin API publishes none).
CALL_ALLOWANCE_MS = 20
SIGN_UP_WRITE_UNITS = 4 * 2
TOKEN_READ_UNITS = 1
PER = 1_000_000


def lambda_cost(memory_mb, billed_ms, architecture="x86_64"):
    """Lambda's price of one invocation billed `billed_ms` at `memory_mb`: duration and request."""
    if billed_ms != math.ceil(billed_ms):
        raise ValueError(f"Lambda bills whole milliseconds, not {billed_ms}")
    gb_seconds = memory_mb / 1024 * billed_ms / 1000
    return gb_seconds * PRICES["lambda_gb_second"][architecture] + PRICES["lambda_request"]


def billed_ms(own_ms, calls):
    """What Lambda would bill: the function's own time and the services' allowance, rounded up to
    the next millisecond (1 ms billing); a cold one's init included, as an OS-only runtime's is."""
    return math.ceil(own_ms + calls * CALL_ALLOWANCE_MS)


def table(report, contender="function"):
    """Rows of (what, USD per million sign-ups, USD per million sign-ins) from a bench report."""
    settings = report["settings"]
    sizes = settings.get("sizes_mb") or []
    figures = report["figures"][contender]["sizes"]
    reading = "share" if settings.get("init_cpu") in ("share", "both") else "full"
    rows = []
    for memory in sizes:
        at = figures[f"{memory}/{reading}"]
        for state in ("cold", "warm"):
            calls = "calls_cold" if state == "cold" else "calls"  # cold: init's read too
            billed = [billed_ms(at[f"own_{state}_{kind}_ms"], at[f"{calls}_{kind}"]) for kind in ("sign_up", "token")]
            rows.append(
                (
                    f"Lambda at {memory} MB, {state}",
                    PER * lambda_cost(memory, billed[0]),
                    PER * lambda_cost(memory, billed[1]),
                    tuple(billed),
                )
            )
    rows.append(
        (
            "DynamoDB (8 write units; 1 read unit)",
            PER * SIGN_UP_WRITE_UNITS * PRICES["dynamodb_write_unit"],
            PER * TOKEN_READ_UNITS * PRICES["dynamodb_read_unit"],
            None,
        )
    )
    for tier, price in PRICES["cognito_mau"].items():
        # A million sign-ups are a million new users, each active that month; sign-ins add nothing.
        rows.append((f"Cognito, {tier} (a month of each new user)", PER * price, 0.0, None))
    return rows


def markdown(report):
    rows = table(report)
    lines = [
        f"Cost per million, USD ({PRICES['region']}, x86_64, prices read {PRICES['read_on']};"
        " Lambda billed for the function's own time measured at each size's share, init included"
        f" when cold, and {CALL_ALLOWANCE_MS} ms per call to DynamoDB or Cognito):\n",
        "| | a million sign-ups | a million sign-ins (tokens) | billed ms (sign-up / token) |",
        "|---|---:|---:|---:|",
    ]
    for what, sign_ups, tokens, billed in rows:
        ms = f"{billed[0]:.0f} / {billed[1]:.0f}" if billed else ""
        lines.append(f"| {what} | {usd(sign_ups)} | {usd(tokens)} | {ms} |")
    return "\n".join(lines) + "\n"


def usd(value):
    return f"{value:,.3f}" if value < 1 else f"{value:,.2f}"


def draw(report, path):
    """Where the money goes: the rows of `table` as bars, log scale."""
    rows = table(report)
    labels, sign_up_rows, token_rows = {}, [], []
    for what, sign_ups, tokens, _ in rows:
        # Coloured by the key's first word: the function's colour for Lambda's rows.
        key = "function " + what if what.startswith("Lambda") else what.split()[0].strip(",").lower() + " " + what
        labels[key] = what
        sign_up_rows.append((key, [("", sign_ups)]))
        if tokens:
            token_rows.append((key, [("", tokens)]))
    parts, y = [text(20, 30, "provision-tenant: what a sign-up and a sign-in cost on AWS", 18, "bold")], 60
    y = panel(parts, y, "USD per million sign-ups (log scale)", sign_up_rows, labels, log=True, money=True)
    y = panel(parts, y, "USD per million sign-ins: a token each", token_rows, labels, money=True)
    notes = (
        f"{PRICES['region']}, on demand, x86_64; prices read {PRICES['read_on']} (docs/benchmarks.md cites them).",
        f"Lambda: the function's own ms at each size's CPU share (make bench-startup, {report['date']}), init"
        f" included when cold, and {CALL_ALLOWANCE_MS} ms per call for the services.",
        "Cognito: each new user is a monthly active user (above the first 10,000); a sign-in adds nothing.",
    )
    for note in notes:
        parts.append(text(20, y, note, 11, fill="#555"))
        y += 16
    height = y + 10
    with open(path, "w") as f:
        f.write(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>\n'
        )
