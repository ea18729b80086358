"""``agentobs demo``: a simulated multi-agent release workflow, then its report.

Nothing leaves the machine: a deterministic fake model answers, telemetry goes to the local
default files, and the run ends with ``agentobs report`` over them. The same seed gives the
same story (durations differ by a few milliseconds).
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

from .._localfiles import FILE_NAMES

DEFAULT_DEMO_DIR = ".agentobs/demo"

log = logging.getLogger("agentobs.demo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``agentobs demo`` options to ``parser``."""
    parser.add_argument(
        "--dir", default=DEFAULT_DEMO_DIR, help=f"where to write telemetry ({DEFAULT_DEMO_DIR})"
    )
    parser.add_argument("--runs", type=int, default=3, help="workflow runs to simulate (3)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fake model (7)")
    parser.add_argument("--html", metavar="FILE", help="also write the HTML report to FILE")


@dataclass
class Reply:
    """What the fake model returns: text and usage, shaped like a chat completion."""

    text: str
    input_tokens: int
    output_tokens: int


class FakeModel:
    """A deterministic stand-in for an LLM: answers and token counts follow from the seed."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def complete(self, prompt: str) -> Reply:
        time.sleep(self.random.uniform(0.002, 0.01))
        words = self.random.randint(20, 120)
        return Reply(f"answer to {prompt[:24]!r}", len(prompt.split()) * 4 + 40, words)


class Fleet:
    """Planner, coder and reviewer personas releasing a change, with gates and a person."""

    def __init__(self, model: FakeModel, seed: int) -> None:
        import agentobs

        self.obs = agentobs
        self.model = model
        self.random = random.Random(seed)

    def ask(self, prompt: str, provider: str, model: str) -> Reply:
        """One call to the fake model, recorded as a GenAI chat span with usage and cost."""
        with self.obs.llm(provider=provider, model=model) as call:
            reply = self.model.complete(prompt)
            call.record_usage(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
            return reply

    def run_tool(self, name: str, fail_rate: float) -> bool:
        try:
            with self.obs.tool(name):
                time.sleep(self.random.uniform(0.001, 0.006))
                if self.random.random() < fail_rate:
                    raise TimeoutError(f"{name} timed out")
            return True
        except TimeoutError as exc:
            log.warning("tool failed, the agent carries on: %s", exc)
            return False

    def release(self, change: str) -> None:
        obs = self.obs
        run_budget = obs.TokenBudget("release-run", usd=0.01)
        coder_budget = obs.TokenBudget("coder", tokens=200)
        with obs.workflow("release", budget=run_budget, change=change):
            planner = obs.persona("planner", chatmode="plan")
            with planner, obs.stage("plan"), obs.agent("planner-agent"):
                self.ask(f"plan the change {change}", "openai", "gpt-4o-mini")
                self.run_tool("search_code", 0.0)
            for attempt in range(1, 4):
                coder = obs.persona("coder", chatmode="edit", budget=coder_budget)
                with coder, obs.stage("implement"):
                    with obs.agent("coder-agent"):
                        prompt = f"implement {change}, attempt {attempt}"
                        self.ask(prompt, "anthropic", "claude-3-5-haiku-latest")
                        self.run_tool("write_file", 0.0)
                        self.run_tool("run_tests", 0.25)
                    with obs.quality_gate("lint") as lint:
                        errors = self.random.choice([0, 0, 0, 2])
                        lint.passed() if errors == 0 else lint.failed(f"{errors} lint errors")
                with obs.persona("reviewer", chatmode="review"), obs.stage("review"):
                    with obs.agent("reviewer-agent"):
                        # a self-hosted model no price table knows: reported as unpriced
                        self.ask(f"review {change}", "local", "fleet-reviewer-7b")
                    score = round(self.random.uniform(0.4, 1.0), 2)
                    with obs.quality_gate("review-score", threshold=0.7) as review:
                        review.score(score)
                if score >= 0.7:
                    break
                if attempt == 2:
                    obs.human_intervention("review-escalated")
            with obs.stage("deploy"):
                obs.record_gate("smoke-test", passed=self.random.random() > 0.2)
                log.info("released %s", change)


def _clear(directory: Path) -> None:
    for name in FILE_NAMES.values():
        stem = name.removesuffix(".jsonl")
        for path in directory.glob(f"{stem}*.jsonl"):
            path.unlink()


def run(args: argparse.Namespace) -> int:
    """Run the simulated workflow through the local default, then print the report."""
    import agentobs

    from .report import build_report, render_html, render_text

    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    _clear(directory)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    agentobs.configure(
        service_name="agentobs-demo", exporter="local", local_dir=directory, environment="demo"
    )
    fleet = Fleet(FakeModel(args.seed), args.seed)
    for number in range(1, max(args.runs, 1) + 1):
        fleet.release(f"change-{number}")
    agentobs.shutdown(timeout=10)
    report = build_report(directory)
    print(render_text(report))
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
        print(f"HTML report: {args.html}")
    return 0
