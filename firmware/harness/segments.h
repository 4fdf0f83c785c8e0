/* Splitting a step's instruction or cycle count into one segment per kernel call, shared by the QEMU plugin
 * (qemu_count.c) and the simavr runner (avr/simavr_run.c). NAME_step only calls kernels one after another, so
 * the n-th run of code outside NAME_step belongs to the n-th kernel call; set-up code inside NAME_step joins
 * the call it prepares, and what runs after the last call joins the last segment. */
#ifndef DG_SEGMENTS_H
#define DG_SEGMENTS_H

#include <stdint.h>

#define DG_MAX_SEGMENTS 4096

typedef struct {
    uint64_t counts[DG_MAX_SEGMENTS];
    uint64_t pending;  /* spent inside NAME_step since the last kernel call */
    int n;
    int prev_in_step;
} dg_segments;

static void dg_segments_reset(dg_segments *s)
{
    s->n = 0;
    s->pending = 0;
    s->prev_in_step = 0;
}

/* Account `spent` units executed at a pc that lies in the harness (in_main), in NAME_step (in_step) or in a
 * kernel (neither). */
static void dg_segments_add(dg_segments *s, int in_main, int in_step, uint64_t spent)
{
    if (in_main) {
        /* back in the harness: NAME_step returned */
        if (s->n > 0)
            s->counts[s->n - 1] += s->pending;
        s->pending = 0;
    } else if (in_step) {
        s->pending += spent;
    } else if (s->prev_in_step && s->n < DG_MAX_SEGMENTS) {
        s->counts[s->n++] = s->pending + spent;
        s->pending = 0;
    } else if (s->n > 0) {
        s->counts[s->n - 1] += spent;
    }
    s->prev_in_step = in_step;
}

#endif
