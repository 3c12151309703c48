#!/usr/bin/env python3
"""Report generator for scripts/bench-all (Python 3 standard library only).

    report.py machine                  prints key=value lines describing this machine
    report.py render RUN_DIR OUT_DIR   writes OUT_DIR/README.md and OUT_DIR/<name>.svg

RUN_DIR is what scripts/bench-all leaves: machine.env, and per benchmark
<name>.env (status, command, load averages, ...) with <name>.md (the
script's markdown table), <name>.txt (a plain-text table, converted here) or
only <name>.log (the script's output, from which a table is converted here).
Numbers are copied from the scripts' tables as they are; the only arithmetic
done here is the bar lengths, and a fibra / best-peer ratio where a script
prints none (marked as computed here).
"""

import datetime
import html
import os
import re
import subprocess
import sys

# The order of the report; bench-all runs them in this order too.
ORDER = ["runtime", "chan", "net", "router", "http", "http-client", "ws",
         "redis", "memcache", "postgres", "nats"]

TITLES = {
    "runtime": "Ping-pong, spawn, sleeping tasks, timers",
    "chan": "Channels and mutexes",
    "net": "TCP echo and bulk transfer",
    "router": "Router lookup",
    "http": "HTTP server",
    "http-client": "HTTP client",
    "ws": "WebSocket",
    "redis": "Redis client",
    "memcache": "Memcached client",
    "postgres": "PostgreSQL client",
    "nats": "NATS client",
}

# Columns that name a row rather than hold a measurement.
LABEL_COLUMNS = {"benchmark", "workload", "op", "clients", "conns", "unit", "case"}

NUMBER = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?")


# --- parsing -----------------------------------------------------------------

class Table:
    """One markdown table with the prose line before it (its title) and after it."""

    def __init__(self, title, header, rows, note=""):
        self.title, self.header, self.rows, self.note = title, header, rows, note

    def label_columns(self):
        return [i for i, h in enumerate(self.header)
                if i == 0 or h.strip().lower() in LABEL_COLUMNS]

    def ratio_columns(self):
        return [i for i, h in enumerate(self.header)
                if "/" in h or "ratio" in h.lower() or " vs " in h.lower()]

    def series(self):
        """Indexes of the columns that hold one implementation's measurements."""
        skip = set(self.label_columns()) | set(self.ratio_columns())
        return [i for i in range(len(self.header)) if i not in skip]

    def direction(self):
        """'lower' or 'higher' (is better) when the title or note says so, else None."""
        for text in (self.title or "", self.note):
            m = re.search(r"(lower|higher) is better", text, re.I)
            if m:
                return m.group(1).lower()
        return None


def split_row(line):
    cells = line.strip().strip("|").split("|")
    return [c.strip() for c in cells]


def is_separator(cells):
    return all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c) and any(cells)


def parse_tables(text):
    """Every markdown table in text, in order."""
    tables = []
    lines = text.splitlines()
    prose = []  # non-table lines since the last table
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("|") and i + 1 < len(lines) \
                and is_separator(split_row(lines[i + 1])):
            if tables:
                tables[-1].note = "\n".join(prose).strip()
            # The paragraph just before the table is its title, unless it is the
            # previous table's note (then only a bold line counts).
            paragraphs = [p for p in "\n".join(prose).split("\n\n") if p.strip()]
            title = paragraphs[-1].strip().splitlines()[-1] if paragraphs else None
            if tables and title and len(paragraphs) < 2 and not title.startswith("**"):
                title = None
            header = split_row(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            tables.append(Table(title and title.strip().strip("*").strip(), header, rows))
            prose = []
            continue
        prose.append(line)
        i += 1
    if tables:
        tables[-1].note = "\n".join(prose).strip()
    return tables


def number(cell):
    """The leading number of a cell ('21,960/s (45.5 µs)' -> 21960.0), or None."""
    m = NUMBER.match(cell.strip().replace("**", ""))
    return float(m.group().replace(",", "")) if m else None


def http_client_table(log):
    """scripts/bench-http-client prints a list, not a table: convert its last block."""
    m = None
    for m in re.finditer(r"^requests/s, median of (\d+) rounds of (\S+), (\d+) concurrent "
                         r"keep-alive GETs:\n((?:  \S+ +\S+\n?)+)", log, re.M):
        pass
    if m is None:
        return None
    rounds, secs, conc = m.group(1), m.group(2), m.group(3)
    values = [line.split() for line in m.group(4).splitlines() if line.strip()]
    names = [v[0] for v in values]
    nums = {v[0]: number(v[1]) for v in values}
    peers = [nums[n] for n in names if n != "fibra" and nums[n]]
    ratio = "-"
    if nums.get("fibra") and peers:
        ratio = f"{nums['fibra'] / max(peers):.2f}"
    out = ["| benchmark | " + " | ".join(names) + " | fibra / best peer |",
           "|---|" + "---:|" * (len(names) + 1),
           f"| {conc} concurrent keep-alive GETs (requests/s) | "
           + " | ".join(f"{nums[n]:,.0f}" if nums[n] is not None else v[1]
                        for n, v in zip(names, values))
           + f" | {ratio} |",
           "",
           f"Medians of {rounds} alternating rounds of {secs}; higher is better. "
           "Converted from the script's printed list by benches/report/report.py, "
           "which also computed the ratio."]
    return "\n".join(out) + "\n"


def text_table(txt):
    """A whitespace-aligned table (scripts/bench-nats' table.txt) as markdown; lines
    whose fields do not match the header's (e.g. a load-average line) become notes."""
    lines = [line for line in txt.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    header = lines[0].split()
    rows = [line.split() for line in lines[1:] if len(line.split()) == len(header)]
    notes = [line.strip() for line in lines[1:] if len(line.split()) != len(header)]
    if not rows:
        return None
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += [""] + [f"{note}  " for note in notes]
    out += ["", "Converted from the script's plain-text table by benches/report/report.py."]
    return "\n".join(out) + "\n"


# --- charts ------------------------------------------------------------------

FIBRA_COLOUR = "#d9480f"
PEER_COLOURS = ["#1c7ed6", "#37b24d", "#7048e8", "#868e96", "#f59f00", "#0ca678"]

WIDTH = 880
NAME_W = 150    # implementation names, left of the bars
BAR_W = 460     # the longest bar in a row
BAR_H = 14
BAR_GAP = 4
ROW_LABEL_H = 20
ROW_GAP = 10
TITLE_H = 28


def colour(name, index):
    if "fibra" in name.lower():
        return FIBRA_COLOUR
    return PEER_COLOURS[index % len(PEER_COLOURS)]


def esc(text):
    return html.escape(text, quote=True)


def panel(table, y):
    """SVG elements for one table, starting at y; returns (elements, new y)."""
    out = []
    described = [line for line in table.note.splitlines()
                 if re.search(r"better|median", line, re.I)]
    title = table.title or (described[0][:110] if described else "Results")
    direction = table.direction()
    if len(title) > 90:  # its first clause
        title = re.split(r"(?<=[.;])\s", title)[0].rstrip(".;")
        title = title if len(title) <= 90 else title[:87] + "..."
    if direction and "is better" not in title:
        title += f" ({direction} is better)"
    out.append(f'<text class="title" x="8" y="{y + 18}">{esc(title)}</text>')
    y += TITLE_H
    series = table.series()
    labels = table.label_columns()
    fibra = next((i for i in series if "fibra" in table.header[i].lower()), None)
    for row in table.rows:
        cells = row + [""] * (len(table.header) - len(row))
        values = [(table.header[i], cells[i], number(cells[i])) for i in series]
        measured = [v for _, _, v in values if v is not None]
        if not measured:
            continue
        top = max(measured) or 1.0
        base = number(cells[fibra]) if fibra is not None else None
        label = " · ".join(cells[i] for i in labels if cells[i])
        out.append(f'<text class="row" x="8" y="{y + 14}">{esc(label)}</text>')
        y += ROW_LABEL_H
        for k, (name, cell, value) in enumerate(values):
            out.append(f'<text class="name" x="{NAME_W - 6}" y="{y + BAR_H - 3}" '
                       f'text-anchor="end">{esc(name)}</text>')
            if value is None:
                out.append(f'<text class="value" x="{NAME_W + 4}" y="{y + BAR_H - 3}">'
                           f'{esc(cell or "-")}</text>')
            else:
                w = max(value / top * BAR_W, 1.0) if value > 0 else 0.0
                kind = "fibra" if "fibra" in name.lower() else "peer"
                out.append(f'<rect class="bar {kind}" data-series="{esc(name)}" '
                           f'data-value="{value:g}" x="{NAME_W}" y="{y}" width="{w:.1f}" '
                           f'height="{BAR_H}" fill="{colour(name, k)}"/>')
                text = cell
                if kind == "peer" and base:
                    text += f"  ({value / base:.2f}× fibra)"
                out.append(f'<text class="value" x="{NAME_W + w + 4:.1f}" '
                           f'y="{y + BAR_H - 3}">{esc(text)}</text>')
            y += BAR_H + BAR_GAP
        y += ROW_GAP
    return out, y


def svg(name, tables):
    """An SVG document: one panel per table, bars normalised to each row's largest value."""
    body, y = [], 8
    heading = f"{name}: {TITLES.get(name, name)}"
    body.append(f'<text class="heading" x="8" y="{y + 18}">{esc(heading)}</text>')
    y += 30
    body.append(f'<text class="hint" x="8" y="{y + 10}">Bars are scaled to the largest '
                f'value in each row; labels are the measured values (and each peer\'s '
                f'value as a multiple of fibra\'s).</text>')
    y += 20
    for table in tables:
        elements, y = panel(table, y)
        body += elements
    height = y + 8
    style = ("text{font-family:sans-serif;font-size:12px;fill:#212529}"
             ".heading{font-size:16px;font-weight:bold}.title{font-size:13px;font-weight:bold}"
             ".hint{font-size:11px;fill:#666}.row{font-style:italic}"
             ".value{font-size:11px}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}">\n<style>{style}</style>\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


# --- machine -----------------------------------------------------------------

def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                              check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    """This machine, the toolchains and the checkout, as (key, value) pairs."""
    info = {}
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["nproc"] = run("nproc")
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    info["cpu"] = model or "unknown"
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        info["memory"] = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        info["memory"] = "unknown"
    info["kernel"] = run("uname", "-sr")
    try:
        with open("/etc/os-release") as f:
            info["os"] = next((line.split("=", 1)[1].strip().strip('"') for line in f
                               if line.startswith("PRETTY_NAME=")), "")
    except OSError:
        info["os"] = ""
    info["rustc"] = run("rustc", "--version") or "not found"
    info["go"] = run("go", "version") or "not found"
    info["commit"] = run("git", "log", "-1", "--format=%h %s")
    dirty = [line for line in run("git", "status", "--porcelain", "--untracked-files=no")
             .splitlines() if line.strip()]
    info["uncommitted"] = (f"{len(dirty)} tracked files modified in the working tree "
                           "(benchmarks build the working tree)") if dirty else "none"
    with open("/proc/loadavg") as f:
        info["load"] = " ".join(f.read().split()[:3])
    return info


def read_env(path):
    """key=value lines (the value is everything after the first '=')."""
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                out[key] = value
    return out


# --- the report --------------------------------------------------------------

def table_text(run_dir, name):
    """The markdown table of one benchmark and where it came from, or (None, why)."""
    base = os.path.join(run_dir, name)
    if os.path.exists(base + ".md"):
        with open(base + ".md") as f:
            return f.read(), "from the script's table.md"
    if os.path.exists(base + ".txt"):
        with open(base + ".txt") as f:
            converted = text_table(f.read())
        if converted:
            return converted, "from the script's table.txt, converted"
    if os.path.exists(base + ".log") and name == "http-client":
        with open(base + ".log", errors="replace") as f:
            converted = http_client_table(f.read())
        if converted:
            return converted, "from the script's printed list, converted"
    return None, "not found"


def render(run_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    info = read_env(os.path.join(run_dir, "machine.env"))
    names = [n for n in ORDER if os.path.exists(os.path.join(run_dir, n + ".env"))]
    names += sorted(f[:-4] for f in os.listdir(run_dir)
                    if f.endswith(".env") and f[:-4] not in names and f != "machine.env")
    metas = {n: read_env(os.path.join(run_dir, n + ".env")) for n in names}
    quick = {m.get("quick", "0") for m in metas.values()}
    if quick == {"1"}:
        mode = ("**QUICK=1**: one round and short runs per benchmark, a smoke test of the "
                "harness; single runs, not medians; do not quote these numbers")
    elif quick == {"0"}:
        mode = ("full runs: each script's default durations, and rounds as in each "
                "section's command (the script's default where none is given)")
    else:
        mode = "mixed: some benchmarks QUICK=1 (see each section)"

    for f in os.listdir(out_dir):  # charts of benchmarks not in this report
        if f.endswith(".svg") and f[:-4] not in names:
            os.remove(os.path.join(out_dir, f))

    lines = ["# Side-by-side benchmark results", "",
             f"Generated by `scripts/bench-all` ({mode}) on {info.get('date', '?')}. "
             "Each script alternates fibra with its peers within every round; the tables "
             "are the scripts' own output, copied unedited (see benches/report/report.py). "
             "fibra, the peers and the load generators share the machine's cores, and the "
             "machine is a shared VM: compare numbers within a row, not across runs.", "",
             "## Machine", "", "| | |", "|---|---|"]
    for key, label in [("nproc", "CPUs (nproc)"), ("cpu", "model"), ("memory", "memory"),
                       ("kernel", "kernel"), ("os", "OS"), ("rustc", "rustc"), ("go", "go"),
                       ("commit", "git commit"), ("uncommitted", "uncommitted changes"),
                       ("load", "load average at start (1/5/15 min)"),
                       ("date", "started")]:
        lines.append(f"| {label} | {info.get(key, '?').replace('|', '/')} |")
    lines += ["", "## Summary", "",
              "| benchmark | status | mode | started | minutes | load average before → after |",
              "|---|---|---|---|---:|---|"]
    for n in names:
        m = metas[n]
        minutes = f"{int(m.get('seconds', 0)) / 60:.1f}"
        lines.append(f"| [{n}](#{n}) | {m.get('status', '?')} | "
                     f"{'QUICK' if m.get('quick') == '1' else 'full'} | {m.get('started', '?')} | "
                     f"{minutes} | {m.get('load_before', '?')} → {m.get('load_after', '?')} |")
    lines.append("")

    for n in names:
        m = metas[n]
        text, source = table_text(run_dir, n)
        lines += [f'<a id="{n}"></a>', "", f"## {n}: {TITLES.get(n, n)}", "",
                  f"`{m.get('command', 'scripts/bench-' + n)}`: {m.get('status', '?')}, "
                  f"started {m.get('started', '?')}, "
                  f"{int(m.get('seconds', 0)) / 60:.1f} min, load average "
                  f"{m.get('load_before', '?')} before and {m.get('load_after', '?')} after; "
                  f"commit {m.get('commit', '?')}; table {source}.", ""]
        if text is None:
            lines += [f"No table: see the log `{m.get('log', n + '.log')}`.", ""]
            continue
        tables = parse_tables(text)
        if any(t.series() and t.rows for t in tables):
            with open(os.path.join(out_dir, n + ".svg"), "w") as f:
                f.write(svg(n, tables))
            lines += [f"![{n}: fibra and its peers]({n}.svg)", ""]
        lines += [text.strip(), ""]
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main(argv):
    if len(argv) == 2 and argv[1] == "machine":
        for key, value in machine().items():
            print(f"{key}={value}")
        return 0
    if len(argv) == 4 and argv[1] == "render":
        render(argv[2], argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
