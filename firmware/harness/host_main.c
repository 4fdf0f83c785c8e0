/* Test harness for the host, qemu-user and bare-metal QEMU (stdio through semihosting): reads blocks of
 * DG_IN_SIZE floats (native byte order) from stdin, runs one step per block (after a single init, so
 * streaming state carries over) and writes DG_OUT_SIZE floats per block to stdout. Compiled with -DDG_HEADER='"name.h"' -DDG_INIT=name_init -DDG_STEP=name_step
 * -DDG_IN_SIZE=NAME_IN_SIZE -DDG_OUT_SIZE=NAME_OUT_SIZE. */
#include <stdio.h>
#include <stdlib.h>
#include DG_HEADER
#include "marks.h"

static float in_block[DG_IN_SIZE > 0 ? DG_IN_SIZE : 1];
static float out_block[DG_OUT_SIZE > 0 ? DG_OUT_SIZE : 1];

int main(void)
{
    DG_INIT();
    while (fread(in_block, sizeof(float), DG_IN_SIZE, stdin) == (size_t)DG_IN_SIZE) {
        dg_mark_begin();
        DG_STEP(in_block, out_block);
        dg_mark_end();
        if (fwrite(out_block, sizeof(float), DG_OUT_SIZE, stdout) != (size_t)DG_OUT_SIZE)
            return 2;
    }
    return ferror(stdin) ? 1 : 0;
}
