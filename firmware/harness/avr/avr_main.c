/* AVR verify harness for simavr_run: the runner streams blocks through memory instead of a UART. When the
 * firmware calls dg_io_read or dg_io_write, the runner (watching their addresses) copies a block between its
 * stdin/stdout and the buffer passed in r25:r24, and sets dg_io_status (1: a block was read, 0: end of input).
 * Only one block of input and one of output ever sit in the 2-8 KB of RAM. */
#include <stdint.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/interrupt.h>
#include DG_HEADER
#include "../marks.h"

static float in_block[DG_IN_SIZE > 0 ? DG_IN_SIZE : 1];
static float out_block[DG_OUT_SIZE > 0 ? DG_OUT_SIZE : 1];
volatile uint8_t dg_io_status;

__attribute__((noinline)) void dg_io_read(float *block, uint16_t n)
{
    __asm__ volatile("" : : "r"(block), "r"(n) : "memory");
}

__attribute__((noinline)) void dg_io_write(const float *block, uint16_t n)
{
    __asm__ volatile("" : : "r"(block), "r"(n) : "memory");
}

int main(void)
{
    DG_INIT();
    for (;;) {
        dg_io_read(in_block, DG_IN_SIZE);
        if (!dg_io_status)
            return 0;
        dg_mark_begin();
        DG_STEP(in_block, out_block);
        dg_mark_end();
        dg_io_write(out_block, DG_OUT_SIZE);
    }
}
