"""Render the report of ``bench_peers.py`` (its JSON) as ``benchmarks/RESULTS.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECTIONS = {
    "decorators": (
        "Decorated trivial function",
        "A function returning 1, decorated by the SDK, that sets one attribute the way that "
        "SDK's user would (named in the note), called in a loop; the reference is a raw "
        "OpenTelemetry span (private SDK `TracerProvider`, `BatchSpanProcessor`, an exporter "
        "that drops the spans) setting the same attribute, sync or async like the row. Every "
        "SDK's spans go to the same kind of dropping exporter behind a batch processor (its own, "
        "or the application's global provider where the SDK only adds to one). Ratio: median of "
        "the per-round ratios of paired, alternating rounds in one process.",
    ),
    "llm": (
        "LLM instrumentation (real `openai` client, loopback server)",
        "The real `openai` client calling Chat Completions on a loopback server (another "
        "process), instrumented as each SDK documents, against the same client uninstrumented "
        "(the method as it was before any patch), paired rounds. *Added per call*: a "
        "non-streaming completion; *added per chunk*: a streamed completion with "
        "`stream_options.include_usage` (the call's own cost spread over its chunks). Every SDK "
        "records to the application's global SDK providers (dropping batch processor, in-memory "
        "metric reader) unless it brings its own. *Records* is read from the spans and "
        "metrics the SDK produced: token usage, cost, time to first chunk, prompt content, "
        "metric names. Absolute µs are small beside an HTTP round trip: read the added µs "
        "with their min-max.",
    ),
    "pytest": (
        "pytest plugins",
        "Fresh `python -m pytest -q` processes on generated trivial tests, plugin on against "
        "plugin off (`-p no:<plugin>`), in the plugin's environment, paired alternating rounds; "
        "seconds per run.",
    ),
    "import": (
        "Cold import",
        "`import <module>` in a fresh interpreter of the SDK's environment, alternating with "
        "`import opentelemetry.sdk.trace` (after one warm-up of each).",
    ),
    "throughput": (
        "Export throughput",
        "Paced calls of the SDK's first decorator (one span each, plus whatever metrics the SDK "
        "records) for the stated seconds: the highest rate at which every span is reported "
        "exported by the OTLP/HTTP exporter (rotel, blackhole exporter, on loopback) or the "
        "local-file exporter, found by doubling then bisecting short probes (each retried "
        "once) and confirmed over the full duration; a confirmation that loses any span is "
        "retried at three quarters of the rate, up to six times, and the note says what was "
        "lost (failed exports, queue drops, a missed pace). The reference is a raw span with "
        "the SDK's OTLP/HTTP exporter, measured the same way (the same code) in the same "
        "process just before. One process, so the figure is "
        "bounded by what the producer thread and the export thread get of the GIL and the CPU.",
    ),
}


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _span(row: dict[str, Any]) -> str:
    if row.get("min") is None:
        return "-"
    return f"{_num(row['min'])}–{_num(row['max'])}"


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


def _rows(report: dict[str, Any], section: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (result, row)
        for result in report["results"]
        if result["section"] == section
        for row in result["rows"]
    ]


def _table(section: str, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    if section == "llm":
        head = [
            "instrumentation",
            "added",
            "min–max",
            "uninstrumented",
            "ratio",
            "tokens",
            "cost",
            "TTFT",
            "content",
            "metrics",
            "note",
        ]
    elif section == "throughput":
        head = ["SDK", "spans/s, zero drops", "raw OTel same process", "ratio", "seconds", "note"]
    else:
        head = ["row", "median", "min–max", "reference", "ratio", "note"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _result, row in rows:
        note = (row.get("note") or "").replace("|", "/")
        if row.get("value") is None:
            cells = [row["name"], *["-"] * (len(head) - 2), note]
        elif section == "llm":
            rec = row.get("records") or {}
            cells = [
                row["name"],
                f"{_num(row['value'])} {row['unit'].replace(' added', '')}",
                _span(row),
                f"{_num(row.get('baseline_value'))}",
                _num(row.get("ratio"), 3),
                _yes(rec.get("tokens")),
                _yes(rec.get("cost")),
                _yes(rec.get("ttft")),
                _yes(rec.get("content")),
                ", ".join(rec.get("metrics") or []) or "none",
                note,
            ]
        elif section == "throughput":
            cells = [
                row["name"],
                _num(row["value"]),
                _num(row.get("baseline_value")),
                _num(row.get("ratio"), 2),
                _num(row.get("seconds"), 0),
                note,
            ]
        else:
            unit = row["unit"]
            cells = [
                row["name"],
                f"{_num(row['value'])} {unit}",
                _span(row),
                f"{_num(row.get('baseline_value'))} {unit}",
                _num(row.get("ratio"), 2),
                note,
            ]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return out


def _group(section: str, name: str) -> str:
    """Rows compared with each other: same kind of call (sync/async, call/stream)."""
    if section == "decorators":
        return "async" if "(async" in name else "sync"
    if section == "llm":
        return "stream" if "stream" in name else "call"
    return section


GOALS = {"decorators": 1.3, "throughput": 1.0}
"""The issue's goals on agentobs's own ratios (at most; for throughput, at least)."""


def _where_behind(report: dict[str, Any]) -> list[str]:
    """agentobs rows behind the best peer row of their group, and rows missing their goal."""
    out = []
    for section, (title, _about) in SECTIONS.items():
        rows_env = [
            (result["env"], row)
            for result, row in _rows(report, section)
            if row.get("ratio") is not None
        ]
        higher_is_better = section == "throughput"
        for env, row in rows_env:
            if env != "agentobs":
                continue
            peers = [
                other
                for other_env, other in rows_env
                if other_env != "agentobs"
                and _group(section, other["name"]) == _group(section, row["name"])
                and (not higher_is_better or other["value"])
            ]
            goal = GOALS.get(section)
            if section == "throughput" and "local files" in row["name"]:
                continue  # another exporter than every reference: no comparison
            if goal is not None:
                missed = row["ratio"] < goal if higher_is_better else row["ratio"] > goal
                if missed:
                    out.append(
                        f"- {title}: **{row['name']}** ratio {row['ratio']:.2f} misses the "
                        f"goal ({'≥' if higher_is_better else '≤'} {goal:g})."
                    )
            if not peers:
                continue
            key = lambda other: other["ratio"]  # noqa: E731
            best = max(peers, key=key) if higher_is_better else min(peers, key=key)
            behind = (
                row["ratio"] < best["ratio"] if higher_is_better else (row["ratio"] > best["ratio"])
            )
            if behind:
                out.append(
                    f"- {title}: **{row['name']}** ratio {row['ratio']:.2f}, behind "
                    f"**{best['name']}** at {best['ratio']:.2f}."
                )
    return out or ["- Nowhere in this run."]


def _earlier(partial: dict[str, Any]) -> str:
    """Where the rows of earlier ``--only`` runs, still in the report, come from."""
    return "".join(
        f"rows of `{run['only']}` from `{run['command']}` on {run['generated']} "
        f"(load average {run['load_average']}); "
        for run in partial.get("earlier", [])
    )


def _partial(report: dict[str, Any]) -> list[str]:
    """The line that says which rows a ``--only`` run re-measured, and where the rest are from."""
    partial = report.get("partial")
    if not partial:
        return []
    other = partial["others_from"]
    m = other["machine"]
    return [
        f"Only the rows of `{partial['only']}` were measured in this run (the machine above); "
        f"{_earlier(partial)}every other row is from `{other['command']}` on {other['generated']} "
        f"({other['elapsed'] / 60:.0f} min; load average {m['load_average'][0]} at its start "
        f"and {m['load_average_after'][0]} at its end). Each ratio is against its own "
        "reference, measured in the same process and the same run.",
    ]


def render(report: dict[str, Any], findings: Path) -> str:
    m = report["machine"]
    lines = [
        "# agentobs beside its peers",
        "",
        f"Generated by `{report['command']}` on {report['generated']} "
        f"({report['elapsed'] / 60:.0f} min). Do not edit: run the command again.",
        "",
        f"Machine: {m['cpu'] or 'unknown CPU'}, {m['cpus']} CPUs, {m['platform']}, Python "
        f"{m['python']}; load average {m['load_average'][0]} at the start and "
        f"{m['load_average_after'][0]} at the end (the machine is shared: ratios from paired "
        "rounds, not absolute figures, are what carries over).",
        *_partial(report),
        f"Rounds per figure: {report['rounds']}; throughput confirmed over "
        f"{report['seconds']:.0f} s."
        + (" **Quick run: figures are not meaningful.**" if report["quick"] else ""),
        "",
        "Every figure is the median of its rounds, with the rounds' min–max; every ratio is "
        "against a reference measured in the same process (or, for imports and pytest, the "
        "same environment), in alternating rounds, so each SDK is compared with raw "
        "OpenTelemetry under the same load and the same library versions.",
        "",
        "## Versions",
        "",
        "| environment | packages |",
        "|---|---|",
    ]
    for env, found in report["versions"].items():
        packages = ", ".join(f"{name} {version}" for name, version in found.items())
        lines.append(f"| {env} | {packages} |")
    lines += [
        "",
        "## Offline",
        "",
        "Every worker sets `HTTP(S)_PROXY` to a local proxy that refuses each request and "
        "notes the host (loopback exempt); hosts the SDKs tried to reach during the run:",
        "",
    ]
    reached: dict[str, set[str]] = {}
    for result in report["results"]:
        reached.setdefault(result["env"], set()).update(result.get("phoned_home") or [])
    for env, hosts in reached.items():
        lines.append(f"- {env}: {', '.join(sorted(hosts)) if hosts else 'none'}")
    lines += [
        "",
        "Configured offline: Traceloop with `telemetry_enabled=False` and a custom exporter; "
        "Langfuse with `span_exporter=`; Logfire with `send_to_logfire=False`; OpenLIT with a "
        "local `pricing_json` (it downloads prices otherwise); AgentOps without an API key, "
        "its span exporter replaced by the dropping one (or pointed at rotel) and its metric "
        "exporter, whose endpoint `init()` does not take, pointed at rotel or a closed port; "
        "ddtrace with its agent URL on a closed port, telemetry and remote configuration off.",
        "",
    ]
    for section, (title, about) in SECTIONS.items():
        rows = _rows(report, section)
        if not rows:
            continue
        lines += [f"## {title}", "", about, "", *_table(section, rows), ""]
    lines += ["## Where agentobs is not the fastest in this run", "", *_where_behind(report), ""]
    if findings.exists():
        lines += [findings.read_text().rstrip(), ""]
    return "\n".join(lines)


README_START = "<!-- bench-peers: generated from benchmarks/RESULTS.json by make bench-peers -->"
README_END = "<!-- /bench-peers -->"
NAMES = {
    "agentobs": "agentobs",
    "traceloop-sdk": "OpenLLMetry (traceloop-sdk)",
    "langfuse": "Langfuse",
    "logfire": "Logfire",
    "openlit": "OpenLIT",
    "agentops": "AgentOps",
    "opentelemetry-instrumentation-openai-v2": "OTel contrib openai-v2",
    "pytest-opentelemetry": "pytest-opentelemetry",
    "ddtrace": "ddtrace",
}
COLUMNS = [
    ("decorators", "sync", "decorator, sync ×"),
    ("decorators", "async", "decorator, async ×"),
    ("llm", "call", "OpenAI call ×"),
    ("llm", "stream", "stream, µs/chunk"),
    ("pytest", "pytest", "pytest ×"),
    ("import", "import", "import ×"),
    ("throughput", "throughput", "OTLP spans/s, zero drops"),
]


def summary_table(report: dict[str, Any]) -> str:
    """The README's table: per SDK, each measure's ratio (a range over its rows)."""
    cells: dict[tuple[str, str, str], list[float]] = {}
    for result, row in [pair for section in SECTIONS for pair in _rows(report, section)]:
        section = result["section"]
        if section == "throughput" and "local files" in row["name"]:
            continue
        if row.get("ratio") is None and section != "throughput":
            continue
        group = _group(section, row["name"])
        absolute = (section, group) == ("llm", "stream") or section == "throughput"
        value = row["value"] if absolute else row["ratio"]
        cells.setdefault((result["env"], section, group), []).append(value)
    lines = [
        "| SDK | " + " | ".join(title for _s, _g, title in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for env, name in NAMES.items():
        row = [name]
        for section, group, _title in COLUMNS:
            found = cells.get((env, section, group))
            if not found:
                row.append("-")
            elif len(found) == 1 or min(found) == max(found):
                row.append(_num(found[0]))
            else:
                row.append(f"{_num(min(found))}–{_num(max(found))}")
        lines.append("| " + " | ".join(row) + " |")
    partial = report.get("partial")
    if partial:
        other = partial["others_from"]
        lines += [
            "",
            f"Rows of `{partial['only']}` from `{report['command']}` on {report['generated']} "
            f"(load average {report['machine']['load_average'][0]}); {_earlier(partial)}"
            "every other row from "
            f"`{other['command']}` on {other['generated']} (load average "
            f"{other['machine']['load_average'][0]} at its start, "
            f"{other['machine']['load_average_after'][0]} at its end). Ratios are each to a "
            "reference measured in the same process and run; the absolute figures of different "
            "runs were taken under different loads.",
        ]
    return "\n".join(lines)


def update_readme(readme: Path, report: dict[str, Any]) -> None:
    """Replace the generated table between the README's markers."""
    text = readme.read_text()
    start, end = text.index(README_START), text.index(README_END)
    block = f"{README_START}\n{summary_table(report)}\n"
    readme.write_text(text[:start] + block + text[end:])
