/* Stand-in for arduino-pico's ADCInput library (libraries/ADCInput/src/ADCInput.h): only what the glue uses. */
#pragma once
#include <Arduino.h>

class ADCInput : public Stream {
public:
    ADCInput(pin_size_t pin0, pin_size_t pin1 = 255, pin_size_t pin2 = 255, pin_size_t pin3 = 255);
    bool setBuffers(size_t buffers, size_t bufferWords);
    bool begin(long sampleRate);
    virtual int available() override;
    virtual int read() override;
    void onReceive(void (*)(void));
};
