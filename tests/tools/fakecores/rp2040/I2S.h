/* Stand-in for arduino-pico's I2S library (libraries/I2S/src/I2S.h): only what the glue uses. */
#pragma once
#include <Arduino.h>

class I2S : public Stream {
public:
    I2S(PinMode direction = OUTPUT, pin_size_t bclk = 26, pin_size_t data = 28, pin_size_t mclk = 25,
        pin_size_t data_rx = 22);
    bool setBCLK(pin_size_t pin);
    bool setDATA(pin_size_t pin);
    bool setBitsPerSample(int bps);
    bool setBuffers(size_t buffers, size_t bufferWords, int32_t silenceSample = 0);
    bool begin(long sampleRate);
    virtual int available() override;
    virtual int read() override;
    virtual int availableForWrite();
    size_t write16(int16_t l, int16_t r);
    bool read16(int16_t *l, int16_t *r);
    void onTransmit(void (*)(void));
    void onReceive(void (*)(void));
};
