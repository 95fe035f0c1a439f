"""`plan_chunks`: where the patching engine cuts its groups into forward passes."""

import itertools

import pytest

from mechscope.interventions.engine import plan_chunks


def cost(chunks, layer, n_layers, overhead):
    return sum(len(c) * (n_layers - min(layer[i] for i in c)) + overhead for c in chunks)


def partitions(order, per_chunk):
    """Every cut of ``order`` into consecutive chunks of at most ``per_chunk``."""
    n = len(order)
    for cuts in itertools.product([False, True], repeat=n - 1):
        chunks, begin = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                chunks.append(list(order[begin:i]))
                begin = i
        chunks.append(list(order[begin:]))
        if all(len(c) <= per_chunk for c in chunks):
            yield chunks


@pytest.mark.parametrize("overhead", [0.5, 6.0, 40.0])
def test_the_plan_is_the_cheapest_cut_found_by_trying_every_one(overhead):
    # 5 layers of 1 to 4 groups, sorted by layer as the engine sorts them
    layer = [0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4, 4]
    order = list(range(12))
    planned = plan_chunks(order, layer, 5, 5, overhead)
    assert sorted(i for c in planned for i in c) == order and max(map(len, planned)) <= 5
    cheapest = min(cost(c, layer, 5, overhead) for c in partitions(order, 5))
    assert cost(planned, layer, 5, overhead) == pytest.approx(cheapest)


def test_gpt2_shaped_head_patching_never_starts_a_layer_early():
    # 12 layers x 12 heads, 16 groups a pass: cut every 16, each of the 9 chunks mixed two layers
    layer = [lay for lay in range(12) for _ in range(12)]
    planned = plan_chunks(list(range(144)), layer, 16, 12, 2.0)
    assert all(len({layer[i] for i in c}) == 1 for c in planned)
    assert len(planned) == 12
