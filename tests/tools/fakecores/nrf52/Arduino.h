/* Stand-in for the Arduino mbed core (arduino/ArduinoCore-mbed) as the Nano 33 BLE builds it: only what the
 * glue uses. */
#pragma once
#include "arduino_api.h"
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

#include "mbed_serial.h"
