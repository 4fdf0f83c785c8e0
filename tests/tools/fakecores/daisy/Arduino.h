/* Stand-in for the STM32duino core (stm32duino/Arduino_Core_STM32) as the electrosmith_daisy board builds it:
 * only what the glue uses. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arduino_common.h"

/* cores/arduino/HardwareSerial.h: `void begin(unsigned long baud) { begin(baud, SERIAL_8N1); }`,
 * `virtual int read(void);` */
class HardwareSerial {
public:
    void begin(unsigned long baud);
    virtual int read(void);
};
extern HardwareSerial Serial1;

/* cores/arduino/USBSerial.h (USBCON with CDC enabled: Serial is SerialUSB): `void begin(uint32_t);` */
class USBSerial : public Print {
public:
    void begin(uint32_t);
};
extern USBSerial SerialUSB;
#define Serial SerialUSB
