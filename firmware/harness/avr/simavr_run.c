/* Runs an AVR firmware image on simavr, cycle-exact, the way the host harness runs natively: blocks of floats
 * from stdin go to the firmware and its output blocks come back on stdout (see avr_main.c), main's return
 * value becomes the exit status, and the cycles each step spends are written per node (see qemu_count.c for
 * the same counting under QEMU, segments.h for the split).
 *
 *   simavr_run MCU F_CPU FIRMWARE.elf MAX_CYCLES COUNTS_FILE BEGIN END NODE_LO NODE_HI [READ WRITE STATUS]
 *
 * Addresses are hexadecimal byte addresses (from nm); NODE_LO and NODE_HI bound dg_mark_node (both 0 in an image
 * without it). Exit status: main's value, or 124 when MAX_CYCLES run
 * out, 125 on a crash, 126 on bad arguments. Link with -lsimavr. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>

#include "segments.h"

static void log_to_stderr(avr_t *avr, const int level, const char *format, va_list args)
{
    (void)avr;
    if (level <= LOG_WARNING)
        vfprintf(stderr, format, args);
}

static uint32_t hex(const char *s)
{
    return (uint32_t)strtoul(s, NULL, 16);
}

/* Move n floats (4 bytes each, both sides little-endian) between the firmware's buffer and stdio. */
static int read_block(avr_t *avr, uint16_t addr, uint16_t n)
{
    size_t bytes = (size_t)n * 4u;
    if (addr + bytes > avr->ramend + 1u)
        return 0;
    return fread(avr->data + addr, 1, bytes, stdin) == bytes;
}

static int write_block(avr_t *avr, uint16_t addr, uint16_t n)
{
    size_t bytes = (size_t)n * 4u;
    if (addr + bytes > avr->ramend + 1u)
        return 0;
    return fwrite(avr->data + addr, 1, bytes, stdout) == bytes;
}

int main(int argc, char **argv)
{
    elf_firmware_t fw;
    avr_t *avr;
    unsigned long long max_cycles;
    uint32_t begin, end, node_lo, node_hi, io_read = 0, io_write = 0, io_status = 0, prev_pc;
    static dg_segments segments;
    uint64_t before;
    int active = 0, state;
    FILE *counts;

    if (argc != 10 && argc != 13) {
        fprintf(stderr, "usage: simavr_run MCU F_CPU FIRMWARE.elf MAX_CYCLES COUNTS BEGIN END NODE_LO NODE_HI "
                        "[READ WRITE STATUS]\n");
        return 126;
    }
    max_cycles = strtoull(argv[4], NULL, 10);
    begin = hex(argv[6]);
    end = hex(argv[7]);
    node_lo = hex(argv[8]);
    node_hi = hex(argv[9]);
    if (argc == 13) {
        io_read = hex(argv[10]);
        io_write = hex(argv[11]);
        io_status = hex(argv[12]);
    }
    avr_global_logger_set(log_to_stderr);
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[3], &fw) != 0) {
        fprintf(stderr, "simavr_run: cannot read %s\n", argv[3]);
        return 126;
    }
    avr = avr_make_mcu_by_name(argv[1]);
    if (!avr) {
        fprintf(stderr, "simavr_run: simavr does not know the MCU %s\n", argv[1]);
        return 126;
    }
    avr_init(avr);
    avr->frequency = (uint32_t)strtoul(argv[2], NULL, 10);
    avr_load_firmware(avr, &fw);
    counts = fopen(argv[5], "w");
    if (!counts) {
        fprintf(stderr, "simavr_run: cannot write %s\n", argv[5]);
        return 126;
    }

    state = cpu_Running;
    while (state != cpu_Done && state != cpu_Crashed) {
        uint32_t pc = avr->pc;
        if (avr->cycle > max_cycles) {
            fprintf(stderr, "simavr_run: no exit after %llu cycles\n", max_cycles);
            return 124;
        }
        if (io_read && pc == io_read) {
            uint16_t addr = (uint16_t)(avr->data[24] | avr->data[25] << 8);
            uint16_t n = (uint16_t)(avr->data[22] | avr->data[23] << 8);
            avr->data[io_status] = (uint8_t)read_block(avr, addr, n);
        } else if (io_write && pc == io_write) {
            uint16_t addr = (uint16_t)(avr->data[24] | avr->data[25] << 8);
            uint16_t n = (uint16_t)(avr->data[22] | avr->data[23] << 8);
            if (!write_block(avr, addr, n))
                return 126;
        } else if (pc == begin) {
            active = 1;
            dg_segments_reset(&segments);
        } else if (pc == end && active) {
            int i;
            fprintf(counts, "%llu", (unsigned long long)segments.total);
            for (i = 0; i < segments.n; ++i)
                fprintf(counts, " %llu", (unsigned long long)segments.counts[i]);
            fputc('\n', counts);
            active = 0;
        }
        before = avr->cycle;
        prev_pc = pc;
        state = avr_run(avr);
        if (active && prev_pc >= node_lo && prev_pc < node_hi) {
            if (prev_pc == node_lo)
                dg_segments_mark(&segments);
        } else if (active) {
            dg_segments_add(&segments, avr->cycle - before);
        }
    }
    fclose(counts);
    fflush(stdout);
    if (state == cpu_Crashed) {
        fprintf(stderr, "simavr_run: the firmware crashed at pc 0x%x\n", (unsigned)avr->pc);
        return 125;
    }
    return avr->data[24];
}
