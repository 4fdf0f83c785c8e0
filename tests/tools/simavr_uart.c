/* Test tool (tests/test_platformio.py): runs an Arduino AVR firmware on simavr for a number of CPU cycles and
 * writes every byte it sends on UART0 to stdout, at simulated time: what a host reads from the serial port.
 *   simavr_uart MCU F_CPU FIRMWARE.elf CYCLES
 * Link with -lsimavr. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>

/* simavr's own messages (the loader's, warnings) go to stderr: stdout carries only the UART's bytes. */
static void log_to_stderr(avr_t *avr, const int level, const char *format, va_list args)
{
    (void)avr;
    if (level <= LOG_WARNING)
        vfprintf(stderr, format, args);
}

static void uart_byte(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    putchar((int)(value & 0xFF));
}

int main(int argc, char **argv)
{
    elf_firmware_t fw;
    avr_t *avr;
    uint32_t flags = 0;
    unsigned long long cycles;
    int state = cpu_Running;

    if (argc != 5)
        return 126;
    avr_global_logger_set(log_to_stderr);
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[3], &fw) != 0)
        return 126;
    avr = avr_make_mcu_by_name(argv[1]);
    if (!avr)
        return 126;
    avr_init(avr);
    fw.frequency = (uint32_t)strtoul(argv[2], NULL, 10);
    avr_load_firmware(avr, &fw);
    avr->frequency = fw.frequency;
    /* Bytes go to stdout raw, not through simavr's line-buffered console echo. */
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~AVR_UART_FLAG_STDIO;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_byte, NULL);
    cycles = strtoull(argv[4], NULL, 10);
    while (avr->cycle < cycles && state != cpu_Done && state != cpu_Crashed)
        state = avr_run(avr);
    fflush(stdout);
    return state == cpu_Crashed ? 125 : 0;
}
