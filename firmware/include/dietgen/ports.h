/* dietgen runtime: which port of the panel loops (panel.h) the compiler builds, from its own predefined macros,
 * so from the board's -mcpu/-mfpu/-mfloat-abi flags:
 * - NEON (Raspberry Pi 64-bit and 32-bit armhf): ports/neon.h.
 * - Cortex-M4F, M7, M33 (ARMv7E-M, ARMv8-M Mainline) with a single-precision FPU that has VFMA, under the hard
 *   or softfp float ABI: ports/cortexm.h. Soft-float builds (no __ARM_FP) have no FPU registers to use.
 * - x86-64 with AVX2 and FMA (-march=native, -march=x86-64-v3 or -mavx2 -mfma; AVX-512 used where also
 *   enabled): ports/x86.h.
 * - Plain x86-64 (SSE2 and no AVX, e.g. -O2 or -O3 without -march): ports/sse2.h.
 * - Anything else (AVR, Cortex-M0+/M3, soft-float ARM): the portable C of panel.c. */
#ifndef DG_PORTS_H
#define DG_PORTS_H

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "dietgen/ports/neon.h"
#elif (defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)) && defined(__ARM_FP) && ((__ARM_FP) & 4) && \
    defined(__ARM_FEATURE_FMA)
#include "dietgen/ports/cortexm.h"
#elif (defined(__x86_64__) || defined(_M_X64)) && defined(__AVX2__) && defined(__FMA__)
#include "dietgen/ports/x86.h"
#elif (defined(__x86_64__) || defined(_M_X64)) && defined(__SSE2__) && !defined(__AVX__)
#include "dietgen/ports/sse2.h"
#endif

#endif
