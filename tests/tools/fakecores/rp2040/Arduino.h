/* Stand-in for the arduino-pico core (earlephilhower/arduino-pico) and the ArduinoCore-API it builds on: only
 * what the glue uses. */
#pragma once
#include "arduino_api.h"
void delay(unsigned long);

/* variants/rpipico/pins_arduino.h */
static const uint8_t A0 = (26u);

/* api/Stream.h */
class Stream {
public:
    virtual int available() = 0;
    virtual int read() = 0;
};

/* cores/rp2040/SerialUART.h: `void begin(unsigned long baud = 115200) override`, `virtual int read()
 * override;` */
class SerialUART : public Stream {
public:
    void begin(unsigned long baud = 115200);
    virtual int available() override;
    virtual int read() override;
};
extern SerialUART Serial1;

/* libraries/Adafruit_TinyUSB_Arduino/src/arduino/Adafruit_USBD_CDC.h (Serial with -DUSE_TINYUSB):
 * `void begin(uint32_t baud);` */
class Adafruit_USBD_CDC : public Print {
public:
    void begin(uint32_t baud);
};
extern Adafruit_USBD_CDC Serial;
