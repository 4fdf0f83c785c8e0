/* Stand-in for the nRF52840 device headers (nrfx/mdk: nrf.h -> nrf52840.h, nrf52840_bitfields.h) and the CMSIS
 * NVIC calls (core_cm4.h, mbed's cmsis_nvic.h) as the Arduino mbed core ships them: only what the glue uses,
 * register layouts and field values as there. */
#pragma once
#include <stdint.h>

#define __IM volatile const
#define __OM volatile
#define __IOM volatile

typedef enum { SAADC_IRQn = 7, PWM0_IRQn = 28 } IRQn_Type;
void NVIC_EnableIRQ(IRQn_Type IRQn);
void NVIC_SetVector(IRQn_Type IRQn, uint32_t vector);

typedef struct {
    __IOM uint32_t PTR;
    __IOM uint32_t CNT;
    __IOM uint32_t REFRESH;
    __IOM uint32_t ENDDELAY;
    __IM uint32_t RESERVED[4];
} PWM_SEQ_Type;

typedef struct {
    __IOM uint32_t OUT[4];
} PWM_PSEL_Type;

typedef struct {
    __IM uint32_t RESERVED;
    __OM uint32_t TASKS_STOP;
    __OM uint32_t TASKS_SEQSTART[2];
    __OM uint32_t TASKS_NEXTSTEP;
    __IM uint32_t RESERVED1[60];
    __IOM uint32_t EVENTS_STOPPED;
    __IOM uint32_t EVENTS_SEQSTARTED[2];
    __IOM uint32_t EVENTS_SEQEND[2];
    __IOM uint32_t EVENTS_PWMPERIODEND;
    __IOM uint32_t EVENTS_LOOPSDONE;
    __IM uint32_t RESERVED2[56];
    __IOM uint32_t SHORTS;
    __IM uint32_t RESERVED3[63];
    __IOM uint32_t INTEN;
    __IOM uint32_t INTENSET;
    __IOM uint32_t INTENCLR;
    __IM uint32_t RESERVED4[125];
    __IOM uint32_t ENABLE;
    __IOM uint32_t MODE;
    __IOM uint32_t COUNTERTOP;
    __IOM uint32_t PRESCALER;
    __IOM uint32_t DECODER;
    __IOM uint32_t LOOP;
    __IM uint32_t RESERVED5[2];
    PWM_SEQ_Type SEQ[2];
    PWM_PSEL_Type PSEL;
} NRF_PWM_Type;

typedef struct {
    __IOM uint32_t PSELP;
    __IOM uint32_t PSELN;
    __IOM uint32_t CONFIG;
    __IOM uint32_t LIMIT;
} SAADC_CH_Type;

typedef struct {
    __IOM uint32_t PTR;
    __IOM uint32_t MAXCNT;
    __IM uint32_t AMOUNT;
} SAADC_RESULT_Type;

typedef struct {
    __OM uint32_t TASKS_START;
    __OM uint32_t TASKS_SAMPLE;
    __OM uint32_t TASKS_STOP;
    __OM uint32_t TASKS_CALIBRATEOFFSET;
    __IM uint32_t RESERVED[60];
    __IOM uint32_t EVENTS_STARTED;
    __IOM uint32_t EVENTS_END;
    __IOM uint32_t EVENTS_DONE;
    __IOM uint32_t EVENTS_RESULTDONE;
    __IOM uint32_t EVENTS_CALIBRATEDONE;
    __IOM uint32_t EVENTS_STOPPED;
    __IM uint32_t RESERVED1[122];
    __IOM uint32_t INTEN;
    __IOM uint32_t INTENSET;
    __IOM uint32_t INTENCLR;
    __IM uint32_t RESERVED2[61];
    __IM uint32_t STATUS;
    __IM uint32_t RESERVED3[63];
    __IOM uint32_t ENABLE;
    __IM uint32_t RESERVED4[3];
    SAADC_CH_Type CH[8];
    __IM uint32_t RESERVED5[24];
    __IOM uint32_t RESOLUTION;
    __IOM uint32_t OVERSAMPLE;
    __IOM uint32_t SAMPLERATE;
    __IM uint32_t RESERVED6[12];
    SAADC_RESULT_Type RESULT;
} NRF_SAADC_Type;

#define NRF_PWM0 ((NRF_PWM_Type *)0x4001C000UL)
#define NRF_SAADC ((NRF_SAADC_Type *)0x40007000UL)

/* nrf52840_bitfields.h: PWM */
#define PWM_SHORTS_LOOPSDONE_SEQSTART0_Msk (0x1UL << 2)
#define PWM_INTENSET_SEQEND0_Msk (0x1UL << 4)
#define PWM_INTENSET_SEQEND1_Msk (0x1UL << 5)
#define PWM_ENABLE_ENABLE_Pos (0UL)
#define PWM_ENABLE_ENABLE_Enabled (1UL)
#define PWM_MODE_UPDOWN_Pos (0UL)
#define PWM_MODE_UPDOWN_Up (0UL)
#define PWM_PRESCALER_PRESCALER_Pos (0UL)
#define PWM_PRESCALER_PRESCALER_DIV_1 (0UL)
#define PWM_DECODER_LOAD_Pos (0UL)
#define PWM_DECODER_LOAD_Common (0UL)
#define PWM_DECODER_MODE_Pos (8UL)
#define PWM_DECODER_MODE_RefreshCount (0UL)

/* nrf52840_bitfields.h: SAADC */
#define SAADC_INTENSET_STARTED_Msk (0x1UL << 0)
#define SAADC_INTENSET_END_Msk (0x1UL << 1)
#define SAADC_ENABLE_ENABLE_Pos (0UL)
#define SAADC_ENABLE_ENABLE_Enabled (1UL)
#define SAADC_CH_PSELP_PSELP_AnalogInput2 (3UL)
#define SAADC_CH_PSELN_PSELN_NC (0UL)
#define SAADC_CH_CONFIG_GAIN_Pos (8UL)
#define SAADC_CH_CONFIG_GAIN_Gain1_4 (3UL)
#define SAADC_CH_CONFIG_REFSEL_Pos (12UL)
#define SAADC_CH_CONFIG_REFSEL_VDD1_4 (1UL)
#define SAADC_CH_CONFIG_TACQ_Pos (16UL)
#define SAADC_CH_CONFIG_TACQ_3us (0UL)
#define SAADC_CH_CONFIG_MODE_Pos (20UL)
#define SAADC_CH_CONFIG_MODE_SE (0UL)
#define SAADC_RESOLUTION_VAL_12bit (2UL)
#define SAADC_SAMPLERATE_CC_Pos (0UL)
#define SAADC_SAMPLERATE_MODE_Pos (12UL)
#define SAADC_SAMPLERATE_MODE_Timers (1UL)
