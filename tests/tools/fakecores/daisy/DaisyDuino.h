/* Stand-in for DaisyDuino (electro-smith/DaisyDuino): only what the glue uses, from src/DaisyDuino.h,
 * src/AudioClass.h and src/utility/audio.h. */
#pragma once
#include <Arduino.h>

namespace daisy {
/* src/utility/audio.h */
class AudioHandle {
public:
    typedef void (*AudioCallback)(float **in, float **out, size_t size);
    typedef void (*InterleavingAudioCallback)(float *in, float *out, size_t size);
};
}
using namespace daisy;

/* src/DaisyDuino.h */
enum DaisyDuinoDevice : short {
    DAISY_SEED,
    DAISY_POD,
    DAISY_PETAL,
    DAISY_FIELD,
    DAISY_PATCH,
    DAISY_PATCH_SM,
    DAISY_LAST,
};

/* src/AudioClass.h */
enum DaisyDuinoSampleRate {
    AUDIO_SR_8K,
    AUDIO_SR_16K,
    AUDIO_SR_32K,
    AUDIO_SR_48K,
    AUDIO_SR_96K,
    AUDIO_SR_LAST,
};

class DaisyHardware {
public:
    int num_channels;
};

class AudioClass {
public:
    DaisyHardware init(DaisyDuinoDevice device, DaisyDuinoSampleRate sr = AUDIO_SR_48K);
    void begin(AudioHandle::AudioCallback cb);
    void begin(AudioHandle::InterleavingAudioCallback cb);
};

extern AudioClass DAISY;
