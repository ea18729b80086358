"""Personas follow ``await`` and ``asyncio.create_task``; threads need ``bind_context``.

Run it with ``python examples/async_fleet.py``; ``agentobs report`` shows the personas.
"""

from __future__ import annotations

import asyncio
import threading

import agentobs


@agentobs.task("review-file", task_type="review")
async def review(path: str) -> bool:
    await asyncio.sleep(0.01)
    return not path.endswith("_old.py")


def lint_in_thread(results: list[bool]) -> None:
    with agentobs.tool("ruff"):
        results.append(True)


async def main() -> None:
    agentobs.configure(service_name="async-fleet")
    with agentobs.workflow("review"), agentobs.persona("reviewer", chatmode="review"):
        verdicts = await asyncio.gather(*(review(p) for p in ["a.py", "b_old.py", "c.py"]))
        results: list[bool] = []
        worker = threading.Thread(target=agentobs.bind_context(lint_in_thread), args=(results,))
        worker.start()
        worker.join()
        agentobs.record_gate("all-files-ok", all(verdicts) and all(results))
    agentobs.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
