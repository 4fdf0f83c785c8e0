/* Marker functions the emulator counters watch: the QEMU plugin (qemu_count.c) and the simavr runner
 * (simavr_run.c) count what runs between dg_mark_begin and dg_mark_end, and split it per node at the calls of
 * dg_mark_node (segments.h) that a counting build of the step makes (DG_COUNT_NODES, dietgen/common.h). They must
 * be real, separate functions, hence noinline and bodies the compiler can neither drop nor merge; dg_mark_node is
 * external, called from the library's translation unit. */
#ifndef DG_MARKS_H
#define DG_MARKS_H

/* Each marker stores a different value: identical bodies would be folded into one function by -O2. */
volatile unsigned char dg_mark_phase;

__attribute__((noinline)) static void dg_mark_begin(void)
{
    dg_mark_phase = 1;
}

__attribute__((noinline)) static void dg_mark_end(void)
{
    dg_mark_phase = 2;
}

void dg_mark_node(void);

__attribute__((noinline)) void dg_mark_node(void)
{
    dg_mark_phase = 3;
}

#endif
