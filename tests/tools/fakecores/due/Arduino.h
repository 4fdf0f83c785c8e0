/* Stand-in for the Arduino SAM core (arduino/ArduinoCore-sam) with CMSIS and libsam as the Due builds them:
 * only what the glue uses. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arduino_common.h"

/* variants/arduino_due_x/variant.h, pins */
#define VARIANT_MCK 84000000
static const uint8_t A0 = 54;
static const uint8_t DAC0 = 66u;

/* cores/arduino/wiring_analog.h */
extern "C" {
void analogWriteResolution(int res);
void analogWrite(uint32_t ulPin, uint32_t ulValue);
void analogReadResolution(int res);
uint32_t analogRead(uint32_t ulPin);
}

/* cores/arduino/wiring_constants.h and Arduino.h: the pin table */
typedef enum _EAnalogChannel { NO_ADC = -1, ADC0 = 0, ADC7 = 7 } EAnalogChannel;
typedef struct _PinDescription {
    EAnalogChannel ulADCChannelNumber;
} PinDescription;
extern const PinDescription g_APinDescription[];

/* system/CMSIS/Device/ATMEL/sam3xa/include/component/component_tc.h, component_dacc.h, component_adc.h */
typedef volatile uint32_t RwReg;
typedef volatile const uint32_t RoReg;
typedef volatile uint32_t WoReg;
typedef struct {
    RwReg TC_CCR, TC_CMR, TC_SMMR, Reserved1[1], TC_CV, TC_RA, TC_RB, TC_RC, TC_SR;
    WoReg TC_IER, TC_IDR;
    RoReg TC_IMR;
    RwReg Reserved2[4];
} TcChannel;
typedef struct {
    TcChannel TC_CHANNEL[3];
} Tc;
typedef struct {
    WoReg DACC_CR;
    RwReg DACC_MR;
    RwReg Reserved1[2];
    WoReg DACC_CHER, DACC_CHDR;
    RoReg DACC_CHSR;
    RwReg Reserved2[1];
    WoReg DACC_CDR;
} Dacc;
typedef struct {
    WoReg ADC_CR;
    RwReg ADC_MR, ADC_SEQR1, ADC_SEQR2;
    WoReg ADC_CHER, ADC_CHDR;
    RoReg ADC_CHSR;
    RwReg Reserved1[1];
    RoReg ADC_LCDR;
    WoReg ADC_IER, ADC_IDR;
    RoReg ADC_IMR, ADC_ISR;
    RwReg Reserved2[2];
    RoReg ADC_OVER;
    RwReg ADC_EMR, ADC_CWR, ADC_CGR, ADC_COR;
    RoReg ADC_CDR[16];
} Adc;
#define TC0 ((Tc *)0x40080000U)
#define DACC ((Dacc *)0x400C8000U)
#define ADC ((Adc *)0x400C0000U)
#define ID_TC0 (27)
#define TC_CMR_TCCLKS_TIMER_CLOCK1 (0x0u << 0)
#define TC_CMR_WAVSEL_UP_RC (0x2u << 13)
#define TC_CMR_WAVE (0x1u << 15)
#define TC_IER_CPCS (0x1u << 4)
#define ADC_CR_START (0x1u << 1)

/* system/CMSIS/Device/ATMEL/sam3xa/include/sam3x8e.h and CMSIS core_cm3.h */
typedef enum IRQn { TC0_IRQn = 27 } IRQn_Type;
void NVIC_EnableIRQ(IRQn_Type IRQn);

/* system/libsam/include/pmc.h, tc.h */
extern "C" {
uint32_t pmc_enable_periph_clk(uint32_t ul_id);
void pmc_set_writeprotect(uint32_t ul_enable);
void TC_Configure(Tc *pTc, uint32_t dwChannel, uint32_t dwMode);
void TC_Start(Tc *pTc, uint32_t dwChannel);
void TC_SetRC(Tc *pTc, uint32_t chan, uint32_t v);
uint32_t TC_GetStatus(Tc *tc, uint32_t chan);
}

/* cores/arduino/UARTClass.h / USARTClass.h: `void begin(const uint32_t dwBaudRate);`, `int read(void);` */
class USARTClass {
public:
    void begin(const uint32_t dwBaudRate);
    int read(void);
};
extern USARTClass Serial1;

/* cores/arduino/UARTClass.h: `void begin(const uint32_t dwBaudRate);` */
class UARTClass : public Print {
public:
    void begin(const uint32_t dwBaudRate);
};
extern UARTClass Serial;
