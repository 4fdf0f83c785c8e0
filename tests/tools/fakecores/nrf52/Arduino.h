/* Stand-in for the Arduino mbed core (arduino/ArduinoCore-mbed) as the Nano 33 BLE builds it: only what the
 * glue uses. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arduino_common.h"

/* api/Common.h (ArduinoCore-API) */
typedef uint8_t pin_size_t;
typedef enum {
    INPUT = 0x0,
    OUTPUT = 0x1,
    INPUT_PULLUP = 0x2,
    INPUT_PULLDOWN = 0x3,
} PinMode;
void pinMode(pin_size_t pinNumber, PinMode pinMode);

/* targets/TARGET_NORDIC/TARGET_NRF5x/TARGET_NRF52/TARGET_MCU_NRF52840/TARGET_ARDUINO_NANO33BLE/PinNames.h */
typedef enum {
    P0_4 = 4,
    P1_10 = 42,
    P1_11 = 43,
    NC = (int)0xFFFFFFFF,
} PinName;

/* variants/ARDUINO_NANO33BLE/pins_arduino.h */
#define D0 (0u)
#define D2 (2u)
static const uint8_t A0 = (14u);
extern PinName digitalPinToPinName(pin_size_t P);

/* cores/arduino/Serial.h: class UART, `void begin(unsigned long);`, `int read(void);` */
namespace arduino {
class UART {
public:
    void begin(unsigned long);
    int read(void);
};
}
extern arduino::UART Serial1;

/* libraries/USBCDC (arduino::USBSerial, Serial is SerialUSB): `void begin(unsigned long)` */
namespace arduino {
class USBSerial : public Print {
public:
    void begin(unsigned long);
};
}
extern arduino::USBSerial SerialUSB;
#define Serial SerialUSB
