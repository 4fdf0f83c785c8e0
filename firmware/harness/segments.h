/* Splitting a step's instruction or cycle count into one segment per node, shared by the QEMU plugin
 * (qemu_count.c) and the simavr runner (avr/simavr_run.c). A counting build (DG_COUNT_NODES) calls dg_mark_node
 * before each node of NAME_step that runs code, so a segment is everything from one mark to the next, whether the
 * node's kernels were called or inlined. What runs before the first mark (the harness's call, NAME_step's
 * prologue) joins the first segment, what runs after the last one (the epilogue, the return into the harness)
 * the last: the segments add up to the step's total. The marker's own body is counted in neither. */
#ifndef DG_SEGMENTS_H
#define DG_SEGMENTS_H

#include <stdint.h>

#define DG_MAX_SEGMENTS 4096

typedef struct {
    uint64_t counts[DG_MAX_SEGMENTS];
    uint64_t total;
    uint64_t before_first;  /* spent before the first mark */
    int n;
} dg_segments;

static void dg_segments_reset(dg_segments *s)
{
    s->n = 0;
    s->total = 0;
    s->before_first = 0;
}

/* A dg_mark_node call: the next node starts. */
static void dg_segments_mark(dg_segments *s)
{
    if (s->n < DG_MAX_SEGMENTS) {
        s->counts[s->n] = s->n == 0 ? s->before_first : 0;
        s->n++;
    }
}

/* `spent` units executed outside the marker. */
static void dg_segments_add(dg_segments *s, uint64_t spent)
{
    s->total += spent;
    if (s->n > 0)
        s->counts[s->n - 1] += spent;
    else
        s->before_first += spent;
}

#endif
