/* Stand-in for Adafruit TinyUSB for Arduino (adafruit/Adafruit_TinyUSB_Arduino, bundled with arduino-pico): only
 * what the glue uses, from src/arduino/Adafruit_USBD_Device.h and src/arduino/midi/Adafruit_USBD_MIDI.h. */
#pragma once
#include <Arduino.h>

/* arduino-pico selects the stack with -DUSE_TINYUSB; without it the library does not build. */
#if !defined(USE_TINYUSB)
#error "Adafruit TinyUSB needs the TinyUSB USB stack: build with -DUSE_TINYUSB"
#endif

class Adafruit_USBD_Device {
public:
    bool begin(uint8_t rhport = 0);
    bool isInitialized(void);
    bool mounted(void);
    bool detach(void);
    bool attach(void);
    void task(void);
};
extern Adafruit_USBD_Device TinyUSBDevice;

class Adafruit_USBD_MIDI : public Stream {
public:
    Adafruit_USBD_MIDI(uint8_t n_cables = 1);
    bool begin(void);
    virtual int available(void) override;
    virtual int read(void) override;
};
