/* Stand-in for Arduino_AdvancedAnalog (arduino-libraries/Arduino_AdvancedAnalog): only what the glue uses,
 * from src/AdvancedAnalog.h, src/DMABuffer.h, src/AdvancedDAC.h and src/AdvancedADC.h. */
#pragma once
#include <Arduino.h>

/* src/AdvancedAnalog.h */
enum {
    AN_RESOLUTION_8 = 0U,
    AN_RESOLUTION_10 = 1U,
    AN_RESOLUTION_12 = 2U,
    AN_RESOLUTION_14 = 3U,
    AN_RESOLUTION_16 = 4U,
};

/* src/DMABuffer.h (ArduinoCore-mbed api/DMAPool.h in later releases) */
template <class T> class DMABuffer {
public:
    size_t size();
    T *data();
    void release();
    T &operator[](size_t i);
};

typedef uint16_t Sample;
typedef DMABuffer<Sample> &SampleBuffer;

typedef enum {
    AN_ADC_SAMPLETIME_8_5 = 2,
} adc_sample_time_t;

/* src/AdvancedDAC.h */
class AdvancedDAC {
public:
    AdvancedDAC(pin_size_t p0);
    bool available();
    SampleBuffer dequeue();
    void write(SampleBuffer dmabuf);
    int begin(uint32_t resolution, uint32_t frequency, size_t n_samples = 0, size_t n_buffers = 0);
    int stop();
};

/* src/AdvancedADC.h */
class AdvancedADC {
public:
    AdvancedADC(pin_size_t p0);
    bool available();
    SampleBuffer read();
    int begin(uint32_t resolution, uint32_t sample_rate, size_t n_samples, size_t n_buffers, bool start = true,
              adc_sample_time_t sample_time = AN_ADC_SAMPLETIME_8_5);
    int stop();
};
