/* Cortex-M startup for the QEMU test harnesses (linked with -nostartfiles): the vector table, a reset handler
 * that prepares C (no constructors to run: the harness is C) and calls main, and a fault handler that ends the emulation with an error through
 * semihosting, so a crashing model fails the run instead of hanging it. */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
extern void initialise_monitor_handles(void);
extern int main(void);

void dg_reset(void);
void dg_fault(void);

/* Semihosting calls are a breakpoint with the operation in r0 and its argument in r1. */
static void semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

/* Every exception but reset lands here: the harness never enables an interrupt, so any of them is a fault
 * (bad memory access, undefined instruction, stack overflow into unmapped memory...). */
void dg_fault(void)
{
    semihost(SYS_WRITE0, "dietgen: hard fault\n");
    semihost(SYS_EXIT, (const void *)ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {
    }
}

void dg_reset(void)
{
    uint32_t *src = &__data_load__, *dst = &__data_start__;
    while (dst < &__data_end__)
        *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__; ++dst)
        *dst = 0;
#if defined(__ARM_FP)
    /* Grant full access to coprocessors 10 and 11 (the FPU) before the first float instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb");
#endif
    initialise_monitor_handles();
    exit(main());
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top__, dg_reset, dg_fault, dg_fault, dg_fault, dg_fault, dg_fault,
    0, 0, 0, 0, dg_fault, dg_fault, 0, dg_fault, dg_fault,
};
