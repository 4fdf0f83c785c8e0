/* Test library for dg_panel_gemm and dg_panel_gemv_runs (tests/test_kernels.py), shaped like a generated model so that every harness
 * (host_main.c, avr/avr_main.c) and emulator runner drives it: each step runs one case described by its input
 * block and writes that case's y into its output block.
 *
 * The test writes next to this file panel_test.h (PANEL_TEST_IN_SIZE, PANEL_TEST_OUT_SIZE, PANEL_TEST_W_SIZE,
 * PANEL_TEST_B_SIZE) and panel_test_weights.c (panel_test_w and panel_test_b: random floats in flash, as a
 * model's weights are). Input block: n, k, m, xs, ycs, yjs, bias (0: none, else 1), tanh (0: no activation, else
 * a fused tanh), parts (1: dg_panel_gemm; more: dg_panel_gemv_runs, one column whose k values are that many runs
 * of k/parts floats, 2 floats apart), then x at the very end of the block. A case's packed W is the last n*k floats of panel_test_w,
 * its bias the last n of panel_test_b and its y the last m*n floats of the output block: every operand ends where
 * its buffer ends, so the sanitizers see any read or write past its end. The rest of the output block stays NaN. */
#include "panel_test.h"

#include "dietgen/panel.h"

extern const float panel_test_w[PANEL_TEST_W_SIZE] DG_FLASH;
extern const float panel_test_b[PANEL_TEST_B_SIZE] DG_FLASH;

void panel_test_init(void)
{
}

#define MAX_PARTS 8

/* Two nodes, as the emulators count them (DG_COUNT_NODES): filling the output block, then the product. */
void panel_test_step(const float *in, float *out)
{
    dg_int n = (dg_int)in[0], k = (dg_int)in[1], m = (dg_int)in[2], xs = (dg_int)in[3];
    dg_int ycs = (dg_int)in[4], yjs = (dg_int)in[5], parts = (dg_int)in[8], len = k / parts, i;
    const float *w = panel_test_w + PANEL_TEST_W_SIZE - n * k;
    const float *b = in[6] != 0.0f ? panel_test_b + PANEL_TEST_B_SIZE - n : NULL;
    const float *runs[MAX_PARTS];
    dg_fn fn = DG_NOFN;
    if (in[7] != 0.0f)
        fn.kind = DG_F_TANH;
    DG_MARK_NODE();
    for (i = 0; i < PANEL_TEST_OUT_SIZE; ++i)
        out[i] = NAN;
    DG_MARK_NODE();
    if (parts == 1) {
        dg_panel_gemm(w, b, in + PANEL_TEST_IN_SIZE - ((m - 1) * xs + k), xs, out + PANEL_TEST_OUT_SIZE - m * n,
                      ycs, yjs, m, n, k, fn);
        return;
    }
    for (i = 0; i < parts; ++i)
        runs[i] = in + PANEL_TEST_IN_SIZE - (parts - i) * (len + 2) + 2;
    dg_panel_gemv_runs(w, b, runs, parts, len, out + PANEL_TEST_OUT_SIZE - n, n, fn);
}
