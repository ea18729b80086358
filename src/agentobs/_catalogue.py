"""The catalogue: every instrument agentobs emits, as data (it imports nothing of ours but
the names).

Each :class:`Instrument` names its kind, unit, description, the attributes it accepts and,
for histograms, its bucket boundaries; each is a named constant (``WORKFLOW_RUNS``...) and
``CATALOGUE`` lists them all. Recording lives in :mod:`agentobs._recorder`, Prometheus names
in :mod:`agentobs._prometheus`; ``docs/metrics.md`` is generated from this table
(``python -m agentobs.cli._metricsdoc > docs/metrics.md``) and a test fails when it is stale.

Metric attributes are bounded: a key the catalogue does not list for an instrument is dropped
(one warning), and once a key has seen ``VALUE_LIMIT`` distinct values, further values fold
into ``_other`` (one warning). Identifiers (trace, task, session, user, test ids) belong on
spans only and are never accepted here.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _names as n

VALUE_LIMIT = 200
"""Distinct values one attribute of one instrument may take before the rest fold together."""


DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
WORKFLOW_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
AGENT_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
STAGE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LONG_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400, 259200, 604800)
"""Seconds, up to a week: sessions and suspensions (a workflow may wait days for a review)."""
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip


@dataclass(frozen=True)
class Instrument:
    """One metric: what it is called, measures and may be broken down by."""

    name: str
    kind: str  # counter | updown_counter | histogram | gauge | observable_(gauge|updown_counter)
    unit: str
    description: str
    attributes: tuple[str, ...]
    buckets: tuple[float, ...] | None = None


_PERSONA = n.PERSONA_NAME
WORKFLOW_DURATION = Instrument(
    "gen_ai.workflow.duration",
    "histogram",
    "s",
    "Duration of a workflow run (equals its invoke_workflow span).",
    (n.WORKFLOW_NAME, n.ERROR_TYPE, _PERSONA),
    WORKFLOW_BUCKETS,
)

WORKFLOW_RUNS = Instrument(
    "agentobs.workflow.runs",
    "counter",
    "{run}",
    "Workflow runs that ended, by status (ok, error, cancelled; suspended when the run took a "
    "checkpoint to continue elsewhere) and whether a human intervened in it.",
    (n.WORKFLOW_NAME, n.STATUS, _PERSONA, n.HUMAN_INTERVENED),
)

WORKFLOW_ACTIVE = Instrument(
    "agentobs.workflow.active",
    "observable_updown_counter",
    "{workflow}",
    "Workflow runs in progress now.",
    (n.WORKFLOW_NAME,),
)

WORKFLOW_OLDEST_AGE = Instrument(
    "agentobs.workflow.oldest_age",
    "observable_gauge",
    "s",
    "Age of the oldest workflow run still in progress, per workflow and state (working, or "
    "waiting inside agentobs.suspended); a resumed run counts from its first start.",
    (n.WORKFLOW_NAME, n.WORKFLOW_STATE),
)

WORKFLOW_SUSPENDED = Instrument(
    "agentobs.workflow.suspended",
    "observable_gauge",
    "{workflow}",
    "Workflow runs suspended now (inside agentobs.suspended), by suspension point.",
    (n.WORKFLOW_NAME, n.SUSPENSION_POINT),
)

SUSPENSION_DURATION = Instrument(
    "agentobs.suspension.duration",
    "histogram",
    "s",
    "Time a workflow spent suspended (waiting on the outside world), by suspension point; "
    "recorded where the suspension ends, in the resuming process for a checkpoint.",
    (n.WORKFLOW_NAME, n.STAGE_NAME, n.SUSPENSION_POINT, _PERSONA),
    LONG_BUCKETS,
)

WORKFLOW_CHECKPOINTS = Instrument(
    "agentobs.workflow.checkpoints",
    "counter",
    "{checkpoint}",
    "Checkpoints taken (agentobs.checkpoint), by workflow and suspension point.",
    (n.WORKFLOW_NAME, n.SUSPENSION_POINT),
)

WORKFLOW_RESUMES = Instrument(
    "agentobs.workflow.resumes",
    "counter",
    "{resume}",
    "Attempts to resume from a checkpoint, by result (ok, malformed, tampered, expired): "
    "attempts are the sum, successes result=ok.",
    (n.WORKFLOW_NAME, n.SUSPENSION_POINT, n.RESUME_RESULT),
)

SESSION_ACTIVE = Instrument(
    "agentobs.session.active",
    "observable_gauge",
    "{session}",
    "Sessions in progress now (agentobs.session scopes), by kind.",
    (n.SESSION_KIND,),
)

SESSION_DURATION = Instrument(
    "agentobs.session.duration",
    "histogram",
    "s",
    "Duration of a session scope, by kind and outcome (ok, error, cancelled).",
    (n.SESSION_KIND, n.STATUS),
    LONG_BUCKETS,
)

DELEGATIONS = Instrument(
    "agentobs.delegations",
    "counter",
    "{delegation}",
    "Work one agent gave another: an agent scope inside another (kind nested, with the inner "
    "agent's status) or agentobs.handoff (kind handoff, status ok).",
    (n.DELEGATION_FROM, n.DELEGATION_TO, n.DELEGATION_KIND, n.STATUS),
)

QUEUE_DEPTH = Instrument(
    "agentobs.queue.depth",
    "observable_gauge",
    "{item}",
    "Items in an application queue now, by state (pending, in_progress).",
    (n.QUEUE_NAME, n.QUEUE_STATE),
)

QUEUE_ENQUEUED = Instrument(
    "agentobs.queue.enqueued",
    "counter",
    "{item}",
    "Items put on a queue.",
    (n.QUEUE_NAME,),
)

QUEUE_COMPLETED = Instrument(
    "agentobs.queue.completed",
    "counter",
    "{item}",
    "Items a queue's consumers finished, by status (throughput: its rate).",
    (n.QUEUE_NAME, n.STATUS),
)

QUEUE_WAIT = Instrument(
    "agentobs.queue.wait",
    "histogram",
    "s",
    "Time an item waited in a queue before work on it started.",
    (n.QUEUE_NAME,),
    STAGE_BUCKETS,
)

QUEUE_SERVICE = Instrument(
    "agentobs.queue.service",
    "histogram",
    "s",
    "Time spent working on a queue item, by status.",
    (n.QUEUE_NAME, n.STATUS),
    STAGE_BUCKETS,
)

STAGE_DURATION = Instrument(
    "agentobs.stage.duration",
    "histogram",
    "s",
    "Duration of a stage, by workflow, stage and persona.",
    (n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA, n.ERROR_TYPE),
    STAGE_BUCKETS,
)

STAGE_REENTRIES = Instrument(
    "agentobs.stage.reentries",
    "counter",
    "{reentry}",
    "Stages entered again within the same workflow run.",
    (n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
)

TASK_RUNS = Instrument(
    "agentobs.task.runs",
    "counter",
    "{run}",
    "Tasks that ended, by agent, task type and status.",
    (n.AGENT_NAME, n.TASK_TYPE, n.STATUS, _PERSONA),
)

TASK_DURATION = Instrument(
    "agentobs.task.duration",
    "histogram",
    "s",
    "Duration of a task, by agent, task type and status.",
    (n.AGENT_NAME, n.TASK_TYPE, n.STATUS, _PERSONA),
    STAGE_BUCKETS,
)

TASK_WAIT = Instrument(
    "agentobs.task.wait",
    "histogram",
    "s",
    "Time a task waited between being enqueued (task(..., enqueued_at=...)) and starting.",
    (n.AGENT_NAME, n.TASK_TYPE),
    STAGE_BUCKETS,
)

INVOKE_AGENT_DURATION = Instrument(
    "gen_ai.invoke_agent.duration",
    "histogram",
    "s",
    "Duration of an agent invocation (equals its invoke_agent span).",
    (n.AGENT_NAME, n.ERROR_TYPE, _PERSONA),
    AGENT_BUCKETS,
)

EXECUTE_TOOL_DURATION = Instrument(
    "gen_ai.execute_tool.duration",
    "histogram",
    "s",
    "Duration of a tool execution (equals its execute_tool span).",
    (n.TOOL_NAME, n.TOOL_TYPE, n.AGENT_NAME, n.ERROR_TYPE, _PERSONA),
    DURATION_BUCKETS,
)

PERSONA_SWITCHES = Instrument(
    "agentobs.persona.switches",
    "counter",
    "{switch}",
    "Changes of the current persona, from one to another, with the new chat mode.",
    (n.PERSONA_FROM, n.PERSONA_TO, n.PERSONA_CHATMODE, n.WORKFLOW_NAME),
)

PERSONA_DURATION = Instrument(
    "agentobs.persona.duration",
    "histogram",
    "s",
    "Time spent in a persona block.",
    (_PERSONA, n.PERSONA_CHATMODE, n.WORKFLOW_NAME),
    STAGE_BUCKETS,
)

GATE_CHECKS = Instrument(
    "agentobs.gate.checks",
    "counter",
    "{check}",
    "Quality-gate checks, by gate and result (pass, fail), workflow and stage.",
    (n.GATE_NAME, n.GATE_RESULT, n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
)

GATE_SCORE = Instrument(
    "agentobs.gate.score",
    "histogram",
    "1",
    "Scores given by quality gates.",
    (n.GATE_NAME, n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
    SCORE_BUCKETS,
)

HUMAN_INTERVENTIONS = Instrument(
    "agentobs.human_interventions",
    "counter",
    "{intervention}",
    "Times a person had to step in, by reason.",
    (n.INTERVENTION_REASON, n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
)

# pytest plugin (agentobs.pytest_plugin): recorded once per test and once per run by the
# process that owns the session (the xdist controller), never by the workers.
TEST_CASES = Instrument(
    "agentobs.test.cases",
    "counter",
    "{test}",
    "Tests that ran, by final outcome (passed, failed, error, skipped, xfailed, xpassed), "
    "category and suite.",
    (n.TEST_OUTCOME, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
)

TEST_DURATION = Instrument(
    "agentobs.test.duration",
    "histogram",
    "s",
    "Duration of a test (setup, call and teardown of every attempt), by outcome, category "
    "and suite.",
    (n.TEST_OUTCOME, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
    (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

TEST_FLAKY = Instrument(
    "agentobs.test.flaky",
    "counter",
    "{test}",
    "Tests found flaky, by how (rerun: failed then passed in the same run; history: the "
    "outcome flipped across runs while the test's code did not), category and suite.",
    (n.TEST_FLAKY_KIND, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
)

TEST_RUN_TESTS = Instrument(
    "agentobs.test_run.tests",
    "observable_gauge",
    "{test}",
    "Tests of the last run, by outcome and category (a gauge, fit for short-lived jobs).",
    (n.TEST_OUTCOME, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
)

TEST_RUN_PASS_RATE = Instrument(
    "agentobs.test_run.pass_rate",
    "observable_gauge",
    "1",
    "Pass rate of the last run: passed / (passed + failed + error).",
    (n.TEST_SUITE_NAME,),
)

TEST_RUN_FLAKY = Instrument(
    "agentobs.test_run.flaky",
    "observable_gauge",
    "{test}",
    "Flaky tests in the last run (either way of detecting them).",
    (n.TEST_SUITE_NAME,),
)

TEST_RUN_DURATION = Instrument(
    "agentobs.test_run.duration",
    "observable_gauge",
    "s",
    "Wall-clock duration of the last run.",
    (n.TEST_SUITE_NAME,),
)

TEST_RUN_COVERAGE = Instrument(
    "agentobs.test_run.coverage",
    "observable_gauge",
    "1",
    "Line coverage ratio (0-1) of the last run, when pytest-cov measured it.",
    (n.TEST_SUITE_NAME,),
)

TEST_RUN_TIMESTAMP = Instrument(
    "agentobs.test_run.timestamp",
    "observable_gauge",
    "s",
    "Unix time at which the last run ended.",
    (n.TEST_SUITE_NAME,),
)

# LLM calls (agentobs.llm and the OpenAI / Anthropic integrations). Token types of the
# agentobs.tokens counter: input and output are totals (input includes cached input,
# output includes reasoning); cache_read, cache_creation and reasoning are parts of them.
CLIENT_TOKEN_USAGE = Instrument(
    "gen_ai.client.token.usage",
    "histogram",
    "{token}",
    "Billable tokens per LLM call, by token type (input, output), as the provider reported.",
    (
        n.OPERATION,
        n.PROVIDER,
        n.TOKEN_TYPE,
        n.REQUEST_MODEL,
        n.RESPONSE_MODEL,
        n.SERVER_ADDRESS,
        n.SERVER_PORT,
        _PERSONA,
    ),
    TOKEN_BUCKETS,
)

CLIENT_OPERATION_DURATION = Instrument(
    "gen_ai.client.operation.duration",
    "histogram",
    "s",
    "Duration of an LLM call, until its stream (if any) ended.",
    (
        n.OPERATION,
        n.PROVIDER,
        n.REQUEST_MODEL,
        n.RESPONSE_MODEL,
        n.SERVER_ADDRESS,
        n.SERVER_PORT,
        n.ERROR_TYPE,
        _PERSONA,
    ),
    DURATION_BUCKETS,
)

CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = Instrument(
    "gen_ai.client.operation.time_to_first_chunk",
    "histogram",
    "s",
    "Time from the start of a streaming LLM call to its first chunk.",
    (
        n.OPERATION,
        n.PROVIDER,
        n.REQUEST_MODEL,
        n.RESPONSE_MODEL,
        n.SERVER_ADDRESS,
        n.SERVER_PORT,
        _PERSONA,
    ),
    DURATION_BUCKETS,
)

TOKENS = Instrument(
    "agentobs.tokens",
    "counter",
    "{token}",
    "Tokens used by LLM calls, by type (input and output are totals; cache_read, "
    "cache_creation and reasoning are parts of them), model, provider, persona, workflow.",
    (n.TOKEN_TYPE, n.REQUEST_MODEL, n.PROVIDER, _PERSONA, n.WORKFLOW_NAME),
)

COST = Instrument(
    "agentobs.cost",
    "counter",
    "{USD}",
    "Cost of LLM calls in US dollars, by model, provider, persona, workflow and where the "
    "price came from (genai-prices, user, provider, instrumentation). Unpriced calls add "
    "nothing here.",
    (n.REQUEST_MODEL, n.PROVIDER, _PERSONA, n.WORKFLOW_NAME, n.COST_SOURCE),
)

COST_UNPRICED_CALLS = Instrument(
    "agentobs.cost.unpriced_calls",
    "counter",
    "{call}",
    "LLM calls whose model has no known price (their cost is unknown, not zero).",
    (n.REQUEST_MODEL, n.PROVIDER, _PERSONA),
)

COST_UNPRICED_TOKENS = Instrument(
    "agentobs.cost.unpriced_tokens",
    "counter",
    "{token}",
    "Tokens (input, output) of LLM calls whose model has no known price.",
    (n.REQUEST_MODEL, n.PROVIDER, n.TOKEN_TYPE, _PERSONA),
)

BUDGET_TOKENS_LIMIT = Instrument(
    "agentobs.budget.tokens.limit",
    "gauge",
    "{token}",
    "Token limit of a budget (of the one its remaining gauge shows).",
    (n.BUDGET_NAME, _PERSONA),
)

BUDGET_TOKENS_REMAINING = Instrument(
    "agentobs.budget.tokens.remaining",
    "gauge",
    "{token}",
    "Tokens left in a budget (negative once it is overspent). Budgets of one name and "
    "persona in force at once (concurrent runs) show the most spent of them (the smallest "
    "share left); with none in force, the last one's final figures.",
    (n.BUDGET_NAME, _PERSONA),
)

BUDGET_COST_LIMIT = Instrument(
    "agentobs.budget.cost.limit",
    "gauge",
    "{USD}",
    "Cost limit of a budget, in US dollars (of the one its remaining gauge shows).",
    (n.BUDGET_NAME, _PERSONA),
)

BUDGET_COST_REMAINING = Instrument(
    "agentobs.budget.cost.remaining",
    "gauge",
    "{USD}",
    "US dollars left in a budget (negative once it is overspent); budgets of one name in "
    "force at once: the most spent of them, as for tokens.",
    (n.BUDGET_NAME, _PERSONA),
)

BUDGET_BREACHES = Instrument(
    "agentobs.budget.breaches",
    "counter",
    "{breach}",
    "Budgets that ran out, by budget, unit (token or USD), policy (warn, raise), persona.",
    (n.BUDGET_NAME, n.BUDGET_UNIT, n.BUDGET_POLICY, _PERSONA),
)
BUDGET_REFUSALS = Instrument(
    "agentobs.budget.refusals",
    "counter",
    "{call}",
    "LLM calls refused by a spent budget with on_exceed='raise', by budget, unit, persona "
    "(not counted as LLM calls, errors or durations).",
    (n.BUDGET_NAME, n.BUDGET_UNIT, _PERSONA),
)

# Self-telemetry (OpenTelemetry SDK self-observability names): agentobs/_export/selfmetrics.py
_COMPONENT = ("otel.component.type", "otel.component.name")
SDK_SPANS_PROCESSED = Instrument(
    "otel.sdk.processor.span.processed",
    "counter",
    "{span}",
    "Spans a batch processor handed to its exporter; error.type=queue_full: dropped "
    "because its queue was full, already_shutdown: ended after shutdown.",
    (*_COMPONENT, n.ERROR_TYPE),
)

SDK_LOGS_PROCESSED = Instrument(
    "otel.sdk.processor.log.processed",
    "counter",
    "{log_record}",
    "Log records a batch processor handed to its exporter; error.type=queue_full: "
    "dropped because its queue was full, already_shutdown: emitted after shutdown.",
    (*_COMPONENT, n.ERROR_TYPE),
)

SDK_SPAN_QUEUE_SIZE = Instrument(
    "otel.sdk.processor.span.queue.size",
    "observable_updown_counter",
    "{span}",
    "Spans waiting in a batch processor's queue.",
    _COMPONENT,
)

SDK_SPAN_QUEUE_CAPACITY = Instrument(
    "otel.sdk.processor.span.queue.capacity",
    "observable_updown_counter",
    "{span}",
    "Spans a batch processor's queue holds at most.",
    _COMPONENT,
)

SDK_LOG_QUEUE_SIZE = Instrument(
    "otel.sdk.processor.log.queue.size",
    "observable_updown_counter",
    "{log_record}",
    "Log records waiting in a batch processor's queue.",
    _COMPONENT,
)

SDK_LOG_QUEUE_CAPACITY = Instrument(
    "otel.sdk.processor.log.queue.capacity",
    "observable_updown_counter",
    "{log_record}",
    "Log records a batch processor's queue holds at most.",
    _COMPONENT,
)

SDK_SPANS_EXPORTED = Instrument(
    "otel.sdk.exporter.span.exported",
    "counter",
    "{span}",
    "Spans an exporter (OTLP, local files, Langfuse, console) sent; with error.type: "
    "those it failed to send.",
    (*_COMPONENT, n.ERROR_TYPE),
)

SDK_LOGS_EXPORTED = Instrument(
    "otel.sdk.exporter.log.exported",
    "counter",
    "{log_record}",
    "Log records an exporter sent; with error.type: those it failed to send.",
    (*_COMPONENT, n.ERROR_TYPE),
)

SDK_DATA_POINTS_EXPORTED = Instrument(
    "otel.sdk.exporter.metric_data_point.exported",
    "counter",
    "{data_point}",
    "Metric data points an exporter sent; with error.type: those it failed to send.",
    (*_COMPONENT, n.ERROR_TYPE),
)

CATALOGUE: tuple[Instrument, ...] = (
    WORKFLOW_DURATION,
    WORKFLOW_RUNS,
    WORKFLOW_ACTIVE,
    WORKFLOW_OLDEST_AGE,
    WORKFLOW_SUSPENDED,
    SUSPENSION_DURATION,
    WORKFLOW_CHECKPOINTS,
    WORKFLOW_RESUMES,
    SESSION_ACTIVE,
    SESSION_DURATION,
    DELEGATIONS,
    QUEUE_DEPTH,
    QUEUE_ENQUEUED,
    QUEUE_COMPLETED,
    QUEUE_WAIT,
    QUEUE_SERVICE,
    STAGE_DURATION,
    STAGE_REENTRIES,
    TASK_RUNS,
    TASK_DURATION,
    TASK_WAIT,
    INVOKE_AGENT_DURATION,
    EXECUTE_TOOL_DURATION,
    PERSONA_SWITCHES,
    PERSONA_DURATION,
    GATE_CHECKS,
    GATE_SCORE,
    HUMAN_INTERVENTIONS,
    TEST_CASES,
    TEST_DURATION,
    TEST_FLAKY,
    TEST_RUN_TESTS,
    TEST_RUN_PASS_RATE,
    TEST_RUN_FLAKY,
    TEST_RUN_DURATION,
    TEST_RUN_COVERAGE,
    TEST_RUN_TIMESTAMP,
    CLIENT_TOKEN_USAGE,
    CLIENT_OPERATION_DURATION,
    CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    TOKENS,
    COST,
    COST_UNPRICED_CALLS,
    COST_UNPRICED_TOKENS,
    BUDGET_TOKENS_LIMIT,
    BUDGET_TOKENS_REMAINING,
    BUDGET_COST_LIMIT,
    BUDGET_COST_REMAINING,
    BUDGET_BREACHES,
    BUDGET_REFUSALS,
    SDK_SPANS_PROCESSED,
    SDK_LOGS_PROCESSED,
    SDK_SPAN_QUEUE_SIZE,
    SDK_SPAN_QUEUE_CAPACITY,
    SDK_LOG_QUEUE_SIZE,
    SDK_LOG_QUEUE_CAPACITY,
    SDK_SPANS_EXPORTED,
    SDK_LOGS_EXPORTED,
    SDK_DATA_POINTS_EXPORTED,
)
"""Every instrument agentobs emits, in the order docs/metrics.md lists them."""

BY_NAME: dict[str, Instrument] = {i.name: i for i in CATALOGUE}
