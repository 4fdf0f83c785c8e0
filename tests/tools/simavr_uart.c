/* Test tool (tests/test_platformio.py): runs an Arduino AVR firmware on simavr for a number of CPU cycles and
 * writes every byte it sends on UART0 to stdout, at simulated time: what a host reads from the serial port.
 * With PERIOD and PWM_FILE it also reads the Timer2 PWM duty (OCR2A) once every PERIOD cycles, half a period
 * after each tick, as the RC filter on the pin would hear it, and writes the bytes to PWM_FILE.
 *   simavr_uart MCU F_CPU FIRMWARE.elf CYCLES [PERIOD PWM_FILE]
 * Link with -lsimavr. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>

/* OCR2A in the data space, the same on the ATmega328P and the ATmega2560. */
#define OCR2A_ADDRESS 0xB3

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

    unsigned long long period = 0, next_sample = 0;
    FILE *pwm = NULL;

    if (argc != 5 && argc != 7)
        return 126;
    if (argc == 7) {
        period = strtoull(argv[5], NULL, 10);
        next_sample = period / 2;
        pwm = fopen(argv[6], "wb");
        if (!pwm || period == 0)
            return 126;
    }
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
    while (avr->cycle < cycles && state != cpu_Done && state != cpu_Crashed) {
        state = avr_run(avr);
        if (pwm && avr->cycle >= next_sample) {
            fputc(avr->data[OCR2A_ADDRESS], pwm);
            next_sample += period;
        }
    }
    fflush(stdout);
    if (pwm)
        fclose(pwm);
    return state == cpu_Crashed ? 125 : 0;
}
