"""The memory planner: exact offsets for hand-made lifetimes, and the lower bound it is measured against."""
from dietgen.passes.memory import Buffer, arena_size, greedy_by_size, lower_bound


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
