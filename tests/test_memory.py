"""The memory planner: exact offsets for hand-made lifetimes, and the lower bound it is measured against."""
from dietgen.passes.memory import Buffer, arena_size, best_greedy, greedy_by_size, lower_bound, place


def test_exact_offsets_reuse_freed_space():
    buffers = [Buffer("a", 32, 0, 1), Buffer("b", 64, 1, 2), Buffer("c", 32, 2, 3), Buffer("d", 16, 0, 3)]
    offsets = greedy_by_size(buffers)
    # b is largest and goes first; a and c never live together, so they share the space after b.
    assert offsets == {"b": 0, "a": 64, "c": 64, "d": 96}
    assert arena_size(buffers, offsets) == 112
    assert lower_bound(buffers) == 112


def test_exact_offsets_fill_a_gap_and_align():
    buffers = [Buffer("big", 100, 0, 4), Buffer("early", 40, 0, 1), Buffer("late", 40, 3, 4),
               Buffer("mid", 20, 2, 2), Buffer("tiny", 4, 1, 3)]
    offsets = greedy_by_size(buffers)
    # Sizes are placed on 16-byte boundaries: big takes [0,112); early and late never overlap in time and
    # share [112,152); mid reuses the same spot while neither is live; tiny overlaps all three.
    assert offsets == {"big": 0, "early": 112, "late": 112, "mid": 112, "tiny": 160}
    assert arena_size(buffers, offsets) == 176
    assert lower_bound(buffers) == 144


def test_chain_is_planned_at_its_lower_bound():
    # x0 -> x1 -> ... each step reads one buffer and writes the next: two buffers live at a time.
    sizes = [64, 256, 128, 512, 64, 32]
    buffers = [Buffer(f"x{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    offsets = greedy_by_size(buffers)
    assert arena_size(buffers, offsets) == lower_bound(buffers) == 512 + 128
    for a in buffers:
        for b in buffers:
            if a is not b and a.overlaps(b):
                assert offsets[a.name] + a.size <= offsets[b.name] or offsets[b.name] + b.size <= offsets[a.name]


def test_empty():
    assert greedy_by_size([]) == {}
    assert lower_bound([]) == 0


def test_best_fit_takes_the_tightest_gap():
    # a (0..2) and c (0..2) leave a 64-byte gap below c and a 32-byte one above; x fits the smaller one.
    buffers = [Buffer("a", 64, 0, 2), Buffer("hole1", 64, 0, 0), Buffer("c", 32, 0, 2), Buffer("hole2", 32, 0, 0),
               Buffer("d", 16, 0, 2), Buffer("x", 32, 1, 2)]
    assert place(buffers) == {"a": 0, "hole1": 64, "c": 128, "hole2": 160, "d": 192, "x": 64}
    assert place(buffers, best_fit=True)["x"] == 160


def test_best_greedy_never_worse_than_greedy_by_size():
    import random
    rng = random.Random(3)
    for _ in range(50):
        buffers = []
        for i in range(rng.randint(2, 20)):
            first = rng.randint(0, 10)
            buffers.append(Buffer(f"b{i}", rng.choice([16, 48, 64, 100, 256]), first, first + rng.randint(0, 4)))
        best, greedy = best_greedy(buffers), greedy_by_size(buffers)
        assert arena_size(buffers, best) <= arena_size(buffers, greedy)
        for a in buffers:
            for b in buffers:
                if a is not b and a.overlaps(b):
                    assert best[a.name] + a.size <= best[b.name] or best[b.name] + b.size <= best[a.name]
