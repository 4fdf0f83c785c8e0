/* QEMU TCG plugin: counts the guest instructions the model executes, per node of its step.
 *
 * Debian's QEMU loads plugins but ships no qemu-plugin.h, so the few API functions used here are declared
 * below. Their signatures are the same from QEMU 4.2 on, but QEMU loads a plugin only when the API version it
 * declares lies between the oldest and the newest that QEMU supports: 0 or 1 up to QEMU 8.2, 2 and up from 9.0
 * (version 2 removed qemu_plugin_n_vcpus and the *_exec_inline calls; 3 changed qemu_plugin_insn_data; 4 added
 * qemu_plugin_read_memory_vaddr: none of them used here). dietgen/toolchain/emulate.py picks the version
 * from the installed QEMU. Build:
 *     cc -O2 -shared -fPIC -DDG_QEMU_PLUGIN_VERSION=N qemu_count.c -o libqemu_count.so
 * Arguments (-plugin libqemu_count.so,arg=value,...), addresses in hex:
 *     begin, end   the harness's marker functions called just before and just after NAME_step
 *     nlo, nhi     the address range of dg_mark_node, which a counting build calls before each node (optional:
 *                  an image without it gives the total alone)
 *     out          file that receives one line per step: "<total> <segment> <segment> ..."
 * A segment is one node: everything from one dg_mark_node call to the next (segments.h); the segments add up to
 * the total, which leaves out the marker's own instructions.
 * Counting is per executed translation block, which is exact here: bare-metal and user-mode harnesses take
 * no interrupts, so a block always runs to its end. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segments.h"

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

#ifndef DG_QEMU_PLUGIN_VERSION
#error "build with -DDG_QEMU_PLUGIN_VERSION=N, the plugin API version the installed QEMU accepts"
#endif
__attribute__((visibility("default"))) int qemu_plugin_version = DG_QEMU_PLUGIN_VERSION;

static uint64_t begin_addr, end_addr, node_lo, node_hi;
static FILE *out;
static bool active;
static dg_segments segments;

/* The block's start address and instruction count travel packed in the callback's user data pointer:
 * a 48-bit address and a 16-bit count both fit a 64-bit host pointer. */
static void on_exec(unsigned int vcpu, void *udata)
{
    uint64_t packed = (uint64_t)(uintptr_t)udata;
    uint64_t pc = packed >> 16, n = packed & 0xffff;
    int i;
    (void)vcpu;
    if (pc == begin_addr) {
        active = true;
        dg_segments_reset(&segments);
        return;
    }
    if (pc == end_addr) {
        if (active && out) {
            fprintf(out, "%" PRIu64, segments.total);
            for (i = 0; i < segments.n; ++i)
                fprintf(out, " %" PRIu64, segments.counts[i]);
            fputc('\n', out);
            fflush(out);
        }
        active = false;
        return;
    }
    if (!active)
        return;
    if (pc >= node_lo && pc < node_hi) {
        if (pc == node_lo)
            dg_segments_mark(&segments);
        return;
    }
    dg_segments_add(&segments, n);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t pc = qemu_plugin_tb_vaddr(tb) & ~(uint64_t)1;
    uint64_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)((pc << 16) | (n & 0xffff)));
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    if (out)
        fclose(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; ++i) {
        const char *eq = strchr(argv[i], '=');
        if (!eq)
            return -1;
        if (!strncmp(argv[i], "begin=", 6))
            begin_addr = strtoull(eq + 1, NULL, 16) & ~1ULL;
        else if (!strncmp(argv[i], "end=", 4))
            end_addr = strtoull(eq + 1, NULL, 16) & ~1ULL;
        else if (!strncmp(argv[i], "nlo=", 4))
            node_lo = strtoull(eq + 1, NULL, 16) & ~1ULL;
        else if (!strncmp(argv[i], "nhi=", 4))
            node_hi = strtoull(eq + 1, NULL, 16);
        else if (!strncmp(argv[i], "out=", 4))
            out = fopen(eq + 1, "w");
        else
            return -1;
    }
    if (!out || !begin_addr || !end_addr || node_hi < node_lo)
        return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
