/* Stand-in for the Arduino mbed core (arduino/ArduinoCore-mbed) as the Portenta H7 M7 builds it: only what the
 * glue uses. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arduino_common.h"

/* api/Common.h (ArduinoCore-API) */
typedef uint8_t pin_size_t;
/* cores/arduino/wiring.cpp: on mbed, a sleep of the calling thread */
void delay(unsigned long ms);

/* variants/PORTENTA_H7_M7/pins_arduino.h */
static const uint8_t A0 = 15u;
static const uint8_t A6 = 21u;

#include "mbed_serial.h"
