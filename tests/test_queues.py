"""Queues: depth by state, wait and service times, throughput, under concurrent producers and
consumers; tickets across threads; task(..., enqueued_at=...); bounded memory."""

from __future__ import annotations

import asyncio
import datetime
import logging
import queue as stdlib_queue
import threading
import time
from typing import Any

import pytest

import agentobs
from agentobs import _queues, testing


def _depth(cap: testing.Capture, name: str) -> dict[str, float]:
    return {
        p.attributes["agentobs.queue.state"]: p.value or 0.0
        for p in cap.metric_points("agentobs.queue.depth")
        if p.attributes["agentobs.queue.name"] == name
    }


def _histogram(cap: testing.Capture, metric: str, **attributes: Any) -> tuple[int, float]:
    count, total = 0, 0.0
    for point in cap.metric_points(metric):
        if all(point.attributes.get(k) == v for k, v in attributes.items()):
            count += point.count or 0
            total += point.sum or 0.0
    return count, total


def test_depth_wait_and_service_in_order(cap: testing.Capture) -> None:
    builds = agentobs.queue("builds")
    assert agentobs.queue("builds") is builds
    tickets = [builds.enqueued() for _ in range(3)]
    assert _depth(cap, "builds") == {"pending": 3, "in_progress": 0}
    time.sleep(0.05)
    item = builds.started(tickets[0])
    assert _depth(cap, "builds") == {"pending": 2, "in_progress": 1}
    time.sleep(0.02)
    item.done()
    with builds.work():  # no ticket: the oldest enqueue time remembered
        pass
    with pytest.raises(RuntimeError), builds.work(tickets[2]):
        raise RuntimeError("build broke")
    assert _depth(cap, "builds") == {"pending": 0, "in_progress": 0}

    waits, wait_total = _histogram(cap, "agentobs.queue.wait", **{"agentobs.queue.name": "builds"})
    assert waits == 3
    assert wait_total >= 3 * 0.05
    ok = _histogram(cap, "agentobs.queue.service", **{"agentobs.status": "ok"})
    assert ok[0] == 2
    assert ok[1] >= 0.02
    assert _histogram(cap, "agentobs.queue.service", **{"agentobs.status": "error"})[0] == 1
    assert cap.metric_value("agentobs.queue.enqueued", **{"agentobs.queue.name": "builds"}) == 3
    assert cap.metric_value("agentobs.queue.completed", **{"agentobs.status": "ok"}) == 2
    assert cap.metric_value("agentobs.queue.completed", **{"agentobs.status": "error"}) == 1


def test_concurrent_producers_and_consumers(cap: testing.Capture) -> None:
    """4 producers put 50 items each on a real queue.Queue; 3 consumers take them, carrying
    the ticket with the item; one in ten fails. Counts, wait and service add up exactly."""
    jobs = agentobs.queue("jobs")
    channel: stdlib_queue.Queue[tuple[int, float] | None] = stdlib_queue.Queue()
    started_consumers = threading.Barrier(3)
    hold = threading.Event()
    seen_depths: list[dict[str, float]] = []

    def produce(base: int) -> None:
        for index in range(50):
            channel.put((base + index, jobs.enqueued()))

    def consume() -> None:
        started_consumers.wait()
        hold.wait(10)
        while True:
            got = channel.get()
            if got is None:
                return
            number, ticket = got
            try:
                with jobs.work(ticket):
                    time.sleep(0.001)
                    if number % 10 == 0:
                        raise ValueError(number)
            except ValueError:
                pass

    producers = [threading.Thread(target=produce, args=(i * 100,)) for i in range(4)]
    consumers = [threading.Thread(target=consume) for _ in range(3)]
    for thread in consumers + producers:
        thread.start()
    for thread in producers:
        thread.join()
    seen_depths.append(_depth(cap, "jobs"))  # everything produced, nothing consumed yet
    hold.set()
    for _ in consumers:
        channel.put(None)
    for thread in consumers:
        thread.join()

    assert seen_depths[0] == {"pending": 200, "in_progress": 0}
    assert _depth(cap, "jobs") == {"pending": 0, "in_progress": 0}
    assert cap.metric_value("agentobs.queue.enqueued") == 200
    assert cap.metric_value("agentobs.queue.completed", **{"agentobs.status": "ok"}) == 180
    assert cap.metric_value("agentobs.queue.completed", **{"agentobs.status": "error"}) == 20
    waits, wait_total = _histogram(cap, "agentobs.queue.wait")
    assert waits == 200
    assert wait_total > 0
    services, service_total = _histogram(cap, "agentobs.queue.service")
    assert services == 200
    assert service_total >= 200 * 0.001


def test_async_work_and_status(cap: testing.Capture) -> None:
    inbox = agentobs.queue("inbox")

    async def main() -> None:
        ticket = inbox.enqueued()
        async with inbox.work(ticket) as item:
            await asyncio.sleep(0)
            item.done("skipped")  # an explicit status wins over the block's
        inbox.enqueued(2)
        inbox.started()
        inbox.done("ok")  # no item: the oldest in progress
        inbox.started()
        assert _depth(cap, "inbox") == {"pending": 0, "in_progress": 1}
        inbox.done()

    asyncio.run(main())
    assert cap.metric_value("agentobs.queue.completed", **{"agentobs.status": "skipped"}) == 1
    assert cap.metric_value("agentobs.queue.completed", **{"agentobs.status": "ok"}) == 2
    assert _depth(cap, "inbox") == {"pending": 0, "in_progress": 0}


def test_task_enqueued_at_measures_the_wait_without_a_queue(cap: testing.Capture) -> None:
    enqueued = time.time() - 2.0
    with agentobs.task("review", agent="bot", task_type="pr", enqueued_at=enqueued):
        pass
    aware = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    with agentobs.task("review", agent="bot", task_type="pr", enqueued_at=aware):
        pass
    count, total = _histogram(cap, "agentobs.task.wait", **{"gen_ai.agent.name": "bot"})
    assert count == 2
    assert 7.0 <= total < 7.5
    waits = [s.attributes["agentobs.task.wait_seconds"] for s in cap.spans_named("task review")]
    assert waits[0] == pytest.approx(2.0, abs=0.2)


def test_bad_input_warns_once_and_never_raises(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentobs")
    odd = agentobs.queue("odd")
    odd.started("yesterday")  # not a time: no wait recorded
    odd.done(item=None)
    odd.done()  # more done than started: depth stays at zero
    with agentobs.task("t", enqueued_at="soon"):
        pass
    assert _depth(cap, "odd") == {"pending": 0, "in_progress": 0}
    assert caplog.text.count("is not a Unix time or a datetime") == 2


def test_memory_is_bounded_whatever_the_producer_does(
    cap: testing.Capture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_queues, "MAX_TRACKED", 100)
    flood = agentobs.queue("flood")
    flood.enqueued(5000)
    for _ in range(10):
        flood.enqueued()
    assert len(flood._enqueue_times) == 100
    assert flood.pending == 5010
    for _ in range(5010):
        with flood.work():
            pass
    assert _depth(cap, "flood") == {"pending": 0, "in_progress": 0}
    assert _histogram(cap, "agentobs.queue.wait")[0] == 100  # only those it could time
    assert cap.metric_value("agentobs.queue.completed") == 5010
    assert "wait of the newest is not measured" in caplog.text

    monkeypatch.setattr(_queues, "MAX_QUEUES", 3)
    names = {agentobs.queue(f"q{i}").name for i in range(10)}
    assert "_other" in names
    assert len(_queues._QUEUES) == 3 + 1  # and the one they fold into
