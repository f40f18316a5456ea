import itertools
import threading
import time

import pytest

from keras_s2v.dubbing.streaming import run_stages


def _batched(items, size):
    items = iter(items)
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def test_stages_pass_items_through_in_order_with_batching_and_unbatching():
    seen = []

    def sink(items):
        for item in items:
            seen.append(item)
            yield

    timer = run_stages(
        ("source", range(23)),
        [
            ("square", lambda items: (x * x for x in items), 2),
            ("batch", lambda items: _batched(items, 5), 1),
            ("unbatch", lambda batches: (x for batch in batches for x in batch), 1),
            ("sink", sink, 3),
        ],
    )
    assert seen == [x * x for x in range(23)]
    assert set(timer.busy) == {"source", "square", "batch", "unbatch", "sink"}


def test_busy_time_counts_work_not_waiting():
    def slow_sink(items):
        for _ in items:
            time.sleep(0.05)
            yield

    timer = run_stages(("source", range(6)), [("fast", lambda items: (x for x in items), 1), ("sink", slow_sink, 1)])
    assert timer.busy["sink"] >= 0.25
    assert timer.busy["fast"] < 0.1 and timer.busy["source"] < 0.1  # they spent the run blocked on full queues


def _endless():
    yield from itertools.count()


@pytest.mark.parametrize("where", ["middle", "sink"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_in_any_stage_stops_every_stage_and_reaches_the_caller(where, error):
    threads_before = threading.active_count()
    produced = []

    def source():
        for x in _endless():
            produced.append(x)
            yield x

    def failing(items):
        for x in items:
            if x == 50:
                raise error("stage failed")
            yield x

    stages = [
        ("middle", failing if where == "middle" else (lambda items: items), 2),
        ("sink", failing if where == "sink" else (lambda items: items), 2),
    ]
    with pytest.raises(error, match="stage failed"):
        run_stages(("source", source()), stages)
    assert threading.active_count() == threads_before  # every stage thread has ended
    assert len(produced) < 60  # the endless source stopped soon after the failure


def test_stages_need_positive_queue_sizes():
    with pytest.raises(ValueError, match=r"received \[0\]"):
        run_stages(("source", range(3)), [("sink", lambda items: items, 0)])
