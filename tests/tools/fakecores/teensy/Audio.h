/* Stand-in for the Teensy Audio Library (PaulStoffregen/Audio) and its AudioStream base (PaulStoffregen/cores,
 * teensy4/AudioStream.h): only what the glue uses, signatures as there. */
#pragma once
#include <Arduino.h>

/* teensy4/AudioStream.h */
#define AUDIO_BLOCK_SAMPLES 128
#define AUDIO_SAMPLE_RATE_EXACT 44100.0f
#define DMAMEM __attribute__((section(".dmabuffers"), used))

typedef struct audio_block_struct {
    uint8_t ref_count;
    uint8_t reserved1;
    uint16_t memory_pool_index;
    int16_t data[AUDIO_BLOCK_SAMPLES];
} audio_block_t;

class AudioStream;

class AudioConnection {
public:
    AudioConnection(AudioStream &source, AudioStream &destination);
    AudioConnection(AudioStream &source, unsigned char sourceOutput, AudioStream &destination,
                    unsigned char destinationInput);
};

#define AudioMemory(num) ({ \
    static DMAMEM audio_block_t data[num]; \
    AudioStream::initialize_memory(data, num); \
})

class AudioStream {
public:
    AudioStream(unsigned char ninput, audio_block_t **iqueue);
    static void initialize_memory(audio_block_t *data, unsigned int num);

protected:
    static audio_block_t *allocate(void);
    static void release(audio_block_t *block);
    void transmit(audio_block_t *block, unsigned char index = 0);
    audio_block_t *receiveReadOnly(unsigned int index = 0);
    audio_block_t *receiveWritable(unsigned int index = 0);

private:
    virtual void update(void) = 0;
};

/* output_i2s.h, input_i2s.h */
class AudioOutputI2S : public AudioStream {
public:
    AudioOutputI2S(void);
    virtual void update(void);
};

class AudioInputI2S : public AudioStream {
public:
    AudioInputI2S(void);
    virtual void update(void);
};

/* control_sgtl5000.h */
#define AUDIO_INPUT_LINEIN 0
#define AUDIO_INPUT_MIC 1

class AudioControlSGTL5000 {
public:
    bool enable(void);
    bool volume(float n);
    bool inputSelect(int n);
};
