"""Tests of the report generator: `cd benches/report && python3 -m unittest`."""

import os
import re
import tempfile
import unittest

import report

# As scripts/bench-runtime writes it (from docs/benchmarks.md).
RUNTIME = """\
| benchmark | fibra median | tokio | may | go | fibra / best peer |
|---|---|---|---|---|---|
| pingpong (ns per round trip, one worker) | 72.6 | 171 | 288 | 201 | 0.42 |
| spawn_join (ns per spawn + join) | 248 | 310 | 29017 | 261 | 0.95 |
| timers (ns per timer insert + cancel) | 99.8 | 194 | n/a | 239 | 0.51 |

Medians of 5 alternating runs per cell; lower is better in every row.
"""

# As scripts/bench-http writes it: several titled tables.
HTTP = """\
**Requests per second (higher is better)**

| benchmark | fibra | may_minihttp | hyper | go | fibra / best peer |
|---|---:|---:|---:|---:|---:|
| plaintext_c64 | 107,471 | 158,733 | 131,236 | 73,357 | 0.68 |

**p99 latency, ms (lower is better)**

| benchmark | fibra | may_minihttp | hyper | go | fibra / best peer |
|---|---:|---:|---:|---:|---:|
| plaintext_c64 | 7.93 | 3.35 | 4.44 | 10.68 | 2.37 |
"""

# As scripts/bench-net writes it: the second table has no title of its own.
NET = """\
| benchmark | fibra | tokio | fibra / best peer |
|---|---|---|---|
| echo, 1 conn (msg/s) | 10,747 | 25,110 | 0.43 |

Round trips per second of 64-byte messages, one in flight per connection, 3 s per run; medians of 3 alternating runs; higher is better.

| benchmark | fibra | std threads | fibra / std |
|---|---|---|---|
| bulk (MiB/s) | 1,979 | 1,686 | 1.17 |

Medians of 3 alternating runs; higher is better.
"""

POSTGRES = """\
| workload | clients | pgbench (C) | fibra-postgres | postgres (sync) | tokio-postgres | fibra / pgbench |
|---|---:|---:|---:|---:|---:|---:|
| select | 16 | 20000 | 18000 | 15000 | 16000 | 0.90 |
"""

HTTP_CLIENT_LOG = """\
   Compiling fibra v0.1.0
round 1: BENCH http_client/fibra 150000
requests/s, median of 5 rounds of 5s, 64 concurrent keep-alive GETs:
  fibra              153178
  reqwest_blocking   60708
  reqwest_async      100592
  go                 88070
"""

NATS_TXT = """\
workload   unit                fibra     async-nats    ratio
pub16      msgs/s          1000000.0       500000.0    2.00x
reqrep     us                   40.0           50.0    1.25x
load at start:  17:05:57 up  1:00,  0 user,  load average: 15.07, 14.18, 9.72
"""


def bars(svg):
    """(class, series, value, width) of every bar in an SVG document."""
    return [(m.group(1), m.group(2), float(m.group(3)), float(m.group(4)))
            for m in re.finditer(r'<rect class="bar (\w+)" data-series="([^"]*)" '
                                 r'data-value="([^"]*)" x="[^"]*" y="[^"]*" width="([^"]*)"', svg)]


class ParseTest(unittest.TestCase):
    def test_runtime_table(self):
        [table] = report.parse_tables(RUNTIME)
        self.assertEqual(table.header[1], "fibra median")
        self.assertEqual(len(table.rows), 3)
        self.assertEqual(table.series(), [1, 2, 3, 4])  # not the label, not the ratio
        self.assertEqual(table.direction(), "lower")

    def test_titles_and_directions(self):
        rps, p99 = report.parse_tables(HTTP)
        self.assertEqual(rps.title, "Requests per second (higher is better)")
        self.assertEqual(rps.direction(), "higher")
        self.assertEqual(p99.direction(), "lower")

    def test_untitled_second_table(self):
        echo, bulk = report.parse_tables(NET)
        self.assertIsNone(echo.title)
        self.assertIsNone(bulk.title)  # the paragraph before it is echo's note
        self.assertTrue(echo.note.startswith("Round trips"))
        svg = report.svg("net", [echo, bulk])
        self.assertIn(">Round trips per second of 64-byte messages, one in flight per connection, "
                      "3 s per run (higher is better)<", svg)
        self.assertIn(">Medians of 3 alternating runs; higher is better.<", svg)

    def test_label_columns(self):
        [table] = report.parse_tables(POSTGRES)
        self.assertEqual(table.label_columns(), [0, 1])
        self.assertEqual([table.header[i] for i in table.series()],
                         ["pgbench (C)", "fibra-postgres", "postgres (sync)", "tokio-postgres"])

    def test_numbers(self):
        self.assertEqual(report.number("107,471"), 107471.0)
        self.assertEqual(report.number("21,960/s (45.5 µs)"), 21960.0)
        self.assertEqual(report.number("1.30×"), 1.30)
        self.assertIsNone(report.number("n/a"))
        self.assertIsNone(report.number("-"))


class SvgTest(unittest.TestCase):
    def test_runtime_bars(self):
        svg = report.svg("runtime", report.parse_tables(RUNTIME))
        found = bars(svg)
        # 3 rows x 4 implementations, less may's n/a timer.
        self.assertEqual(len(found), 11)
        self.assertEqual([b for b in found if b[0] == "fibra"],
                         [("fibra", "fibra median", 72.6, round(72.6 / 288 * report.BAR_W, 1)),
                          ("fibra", "fibra median", 248.0, round(248 / 29017 * report.BAR_W, 1)),
                          ("fibra", "fibra median", 99.8, round(99.8 / 239 * report.BAR_W, 1))])
        # The largest value of each row gets the full width.
        self.assertIn(("peer", "may", 288.0, float(report.BAR_W)), found)
        self.assertIn(("peer", "go", 239.0, float(report.BAR_W)), found)
        self.assertIn("n/a", svg)  # the missing cell is shown as text
        self.assertIn("171  (2.36× fibra)", svg)  # peers' labels relate them to fibra
        self.assertTrue(svg.startswith("<svg ") and svg.endswith("</svg>\n"))

    def test_one_panel_per_table(self):
        svg = report.svg("http", report.parse_tables(HTTP))
        self.assertEqual(svg.count('class="title"'), 2)
        self.assertEqual(len(bars(svg)), 8)


class ConvertTest(unittest.TestCase):
    def test_http_client_list(self):
        [table] = report.parse_tables(report.http_client_table(HTTP_CLIENT_LOG))
        self.assertEqual(table.header[1:5], ["fibra", "reqwest_blocking", "reqwest_async", "go"])
        self.assertEqual(table.rows[0][1], "153,178")
        self.assertEqual(table.rows[0][5], f"{153178 / 100592:.2f}")

    def test_nats_text_table(self):
        text = report.text_table(NATS_TXT)
        [table] = report.parse_tables(text)
        self.assertEqual(len(table.rows), 2)
        self.assertIn("load at start:  17:05:57", table.note)  # kept, below the table
        self.assertEqual(table.label_columns(), [0, 1])
        self.assertEqual([table.header[i] for i in table.series()], ["fibra", "async-nats"])
        self.assertEqual(len(bars(report.svg("nats", [table]))), 4)


class RenderTest(unittest.TestCase):
    def test_render(self):
        with tempfile.TemporaryDirectory() as run, tempfile.TemporaryDirectory() as out:
            with open(os.path.join(run, "machine.env"), "w") as f:
                f.write("nproc=2\ncpu=Test CPU\ndate=2026-12-07 16:00 UTC\n")
            with open(os.path.join(run, "runtime.env"), "w") as f:
                f.write("status=ok\nquick=1\nseconds=90\nload_before=1.0 1.0 1.0\n"
                        "load_after=2.0 1.5 1.0\ncommand=ROUNDS=1 scripts/bench-runtime\n")
            with open(os.path.join(run, "runtime.md"), "w") as f:
                f.write(RUNTIME)
            with open(os.path.join(run, "redis.env"), "w") as f:
                f.write("status=failed (exit 1)\nquick=1\nseconds=5\n")
            open(os.path.join(out, "stale.svg"), "w").close()
            report.render(run, out)
            with open(os.path.join(out, "README.md")) as f:
                readme = f.read()
            self.assertIn("| CPUs (nproc) | 2 |", readme)
            self.assertIn("![runtime: fibra and its peers](runtime.svg)", readme)
            self.assertIn("| pingpong (ns per round trip, one worker) | 72.6 |", readme)
            self.assertIn("1.0 1.0 1.0 → 2.0 1.5 1.0", readme)
            self.assertIn("QUICK=1", readme)
            self.assertIn("No table", readme)  # redis failed
            self.assertEqual(sorted(os.listdir(out)), ["README.md", "runtime.svg"])


if __name__ == "__main__":
    unittest.main()
