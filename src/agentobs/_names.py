"""Attribute keys, span kinds and event names agentobs emits. No behaviour, no imports.

GenAI semantic-convention names are used where they exist; the rest live under ``agentobs.``.
"""

# GenAI semantic conventions (Development status; see docs/semconv.md)
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
WORKFLOW_NAME = "gen_ai.workflow.name"
AGENT_NAME = "gen_ai.agent.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"
EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE = "gen_ai.evaluation.score.value"
EVALUATION_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"

# OpenInference span kind, read by Phoenix and Langfuse to type a span.
OPENINFERENCE_KIND = "openinference.span.kind"

# agentobs's own
SPAN_TYPE = "agentobs.span.type"
STATUS = "agentobs.status"
STAGE_NAME = "agentobs.stage.name"
STAGE_ENTRY = "agentobs.stage.entry"
TASK_NAME = "agentobs.task.name"
TASK_TYPE = "agentobs.task.type"
PERSONA_NAME = "agentobs.persona.name"
PERSONA_CHATMODE = "agentobs.persona.chatmode"
PERSONA_FROM = "agentobs.persona.from"
PERSONA_TO = "agentobs.persona.to"
GATE_NAME = "agentobs.gate.name"
GATE_RESULT = "agentobs.gate.result"
GATE_SCORE = "agentobs.gate.score"
GATE_THRESHOLD = "agentobs.gate.threshold"
GATE_REASON = "agentobs.gate.reason"
INTERVENTION_EVENT = "agentobs.human_intervention"
INTERVENTION_REASON = "agentobs.intervention.reason"
GENERATOR_CLOSED = "agentobs.generator.closed_early"

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"
OVERFLOW_VALUE = "_other"
