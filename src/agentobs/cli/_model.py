"""The shape of an ``agentobs report``: plain dataclasses, JSON-friendly, no behaviour."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..insights import Insights

REPORT_VERSION = 2
"""Bumped when a field of :class:`Report` changes meaning or disappears (2: ``cost_usd`` is
None when no call had a known price, and ``unpriced`` counts the calls without one)."""


@dataclass
class DurationRow:
    """Runs of one named unit of work (workflow, stage, task, agent or tool)."""

    name: str
    count: int
    errors: int
    p50_s: float
    p95_s: float
    max_s: float
    total_s: float
    group: str = ""  # the enclosing workflow, for stages and tasks
    reentries: int = 0  # stages: runs beyond the first within one workflow run


@dataclass
class CountRow:
    """A name and how often it occurred."""

    name: str
    count: int


@dataclass
class ErrorRow:
    """Failed spans grouped by what failed and how."""

    kind: str
    name: str
    error: str
    count: int


@dataclass
class PersonaRow:
    """Activity attributed to one persona (its spans and everything nested in them)."""

    name: str
    spans: int
    time_s: float
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: no LLM call of this persona had a known price
    unpriced: int = 0  # LLM calls with no known price (not counted in cost_usd)


@dataclass
class BudgetRow:
    """One budget and unit: its limit, what was used, what is left, breaches and refusals
    (final values of the budget gauges and counters)."""

    name: str
    unit: str  # "token" or "USD"
    limit: float
    remaining: float
    breaches: int = 0
    refusals: int = 0

    @property
    def used(self) -> float:
        """What was used (the limit minus what is left)."""
        return self.limit - self.remaining


@dataclass
class GateRow:
    """Results of one quality gate."""

    name: str
    passed: int
    failed: int
    pass_rate: float | None
    score_avg: float | None
    score_min: float | None
    score_max: float | None
    last_failure: str = ""


@dataclass
class ModelRow:
    """LLM calls to one model."""

    model: str
    provider: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: no call to this model had a known price
    unpriced: int
    p50_s: float
    p95_s: float


@dataclass
class LLMSummary:
    """All LLM calls: totals, per model, and budget breaches."""

    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: no call had a known price
    unpriced: int
    models: list[ModelRow] = field(default_factory=list)
    budget_breaches: list[CountRow] = field(default_factory=list)


@dataclass
class TestRow:
    """One test run (a test span)."""

    __test__ = False  # not a pytest test class

    name: str
    outcome: str
    duration_s: float
    detail: str = ""


@dataclass
class TestSummary:
    """Test outcomes across every recorded session."""

    __test__ = False  # not a pytest test class

    total: int
    sessions: int
    outcomes: dict[str, int]
    pass_rate: float | None  # passed / (passed + failed + error)
    flaky: list[CountRow] = field(default_factory=list)
    slowest: list[TestRow] = field(default_factory=list)
    failures: list[TestRow] = field(default_factory=list)


@dataclass
class LogEntry:
    """One log record, as shown in the report."""

    time: str
    severity: str
    logger: str
    body: str
    trace_id: str = ""


@dataclass
class LogSummary:
    """Log record counts by severity and the latest warnings and errors."""

    total: int
    by_severity: dict[str, int]
    recent_problems: list[LogEntry] = field(default_factory=list)


@dataclass
class MetricRow:
    """The final value of one metric series (one attribute set)."""

    name: str
    kind: str
    unit: str
    attributes: str
    value: float  # counter total, gauge value, or histogram sum
    count: int = 0  # histogram count
    labels: dict[str, str] = field(default_factory=dict)  # the attributes, one key each


@dataclass
class WaterfallSpan:
    """One bar of the slowest-trace waterfall."""

    name: str
    kind: str
    depth: int
    offset_s: float
    duration_s: float
    error: bool


@dataclass
class TraceView:
    """The slowest workflow run (or trace), as a waterfall."""

    trace_id: str
    name: str
    duration_s: float
    spans: list[WaterfallSpan] = field(default_factory=list)
    omitted: int = 0


@dataclass
class Report:
    """Everything ``agentobs report`` shows. Sections with no data are empty or None."""

    directory: str
    generated_at: str
    files: list[str] = field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0
    start: str | None = None
    end: str | None = None
    duration_s: float = 0.0
    services: list[str] = field(default_factory=list)
    spans_total: int = 0
    spans_error: int = 0
    traces: int = 0
    log_records: int = 0
    metric_points: int = 0
    errors: list[ErrorRow] = field(default_factory=list)
    workflows: list[DurationRow] = field(default_factory=list)
    stages: list[DurationRow] = field(default_factory=list)
    tasks: list[DurationRow] = field(default_factory=list)
    agents: list[DurationRow] = field(default_factory=list)
    tools: list[DurationRow] = field(default_factory=list)
    personas: list[PersonaRow] = field(default_factory=list)
    gates: list[GateRow] = field(default_factory=list)
    budgets: list[BudgetRow] = field(default_factory=list)
    interventions: list[CountRow] = field(default_factory=list)
    llm: LLMSummary | None = None
    tests: TestSummary | None = None
    logs: LogSummary | None = None
    metrics: list[MetricRow] = field(default_factory=list)
    metrics_omitted: int = 0
    slowest_trace: TraceView | None = None  # or the trace chosen with --trace
    filters: dict[str, str] = field(default_factory=dict)  # {"--service": "fleet", ...}
    insights: Insights | None = None
    """What the spans teach (``agentobs insights``): failure and success patterns, regressions."""
    version: int = REPORT_VERSION

    @property
    def is_empty(self) -> bool:
        """True when the directory held no spans, metric points or log records."""
        return not (self.spans_total or self.metric_points or self.log_records)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready built-in types."""
        return asdict(self)
