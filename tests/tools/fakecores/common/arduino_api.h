/* Stand-in for ArduinoCore-API, which the arduino-pico and mbed cores build on: only what the glue uses. */
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
