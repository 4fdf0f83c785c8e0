/* Stand-in for arduino-pico's PWMAudio library (libraries/PWMAudio/src/PWMAudio.h): only what the glue uses. */
#pragma once
#include <Arduino.h>

class PWMAudio : public Stream {
public:
    PWMAudio(pin_size_t pin = 0, bool stereo = false);
    bool setBuffers(size_t buffers, size_t bufferWords);
    bool begin(long sampleRate);
    virtual int available() override;
    virtual int read() override;
    virtual int availableForWrite();
    size_t write(int16_t val, bool sync = true);
    size_t write(int val, bool sync = true);
    void onTransmit(void (*)(void));
};
