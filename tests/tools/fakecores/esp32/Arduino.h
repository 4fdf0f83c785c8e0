/* Stand-in for the Arduino core for ESP32 2.x (espressif/arduino-esp32) and the FreeRTOS of ESP-IDF 4.4 it
 * includes: only what the glue uses. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arduino_common.h"

/* freertos/portmacro.h, FreeRTOSConfig.h */
typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef uint32_t TickType_t;
#define portMAX_DELAY (TickType_t)0xffffffffUL
#define configMAX_PRIORITIES (25)
BaseType_t xPortGetCoreID(void);

/* freertos/task.h (ESP-IDF 4.4) */
typedef void (*TaskFunction_t)(void *);
typedef struct tskTaskControlBlock *TaskHandle_t;
BaseType_t xTaskCreatePinnedToCore(TaskFunction_t pvTaskCode, const char *const pcName,
                                   const uint32_t usStackDepth, void *const pvParameters, UBaseType_t uxPriority,
                                   TaskHandle_t *const pvCreatedTask, const BaseType_t xCoreID);

/* cores/esp32/HardwareSerial.h (2.0.x) and esp32-hal-uart.h */
#define SERIAL_8N1 0x800001c
class HardwareSerial : public Print {
public:
    void begin(unsigned long baud, uint32_t config = SERIAL_8N1, int8_t rxPin = -1, int8_t txPin = -1,
               bool invert = false, unsigned long timeout_ms = 20000UL, uint8_t rxfifo_full_thrhd = 112);
    int read(void);
};
extern HardwareSerial Serial1;
extern HardwareSerial Serial;
