/* Stand-in for the Teensyduino core (PaulStoffregen/cores, teensy4/): only what the glue uses. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arduino_common.h"

/* teensy4/HardwareSerial.h: class HardwareSerialIMXRT, `void begin(uint32_t baud, uint16_t format=0);`,
 * `virtual int read(void);` */
class HardwareSerialIMXRT {
public:
    void begin(uint32_t baud, uint16_t format = 0);
    virtual int read(void);
};
extern HardwareSerialIMXRT Serial1;

/* teensy4/usb_serial.h: `void begin(long)` */
class usb_serial_class : public Print {
public:
    void begin(long);
};
extern usb_serial_class Serial;

/* teensy4/usb_midi.h, compiled only when the USB type includes MIDI (usb_desc.h defines MIDI_INTERFACE for
 * USB_MIDI_SERIAL and the other MIDI types). */
#if defined(USB_MIDI_SERIAL) || defined(USB_MIDI)
class usb_midi_class {
public:
    bool read(uint8_t channel = 0);
    uint8_t getType(void);
    uint8_t getChannel(void);
    uint8_t getData1(void);
    uint8_t getData2(void);
};
extern usb_midi_class usbMIDI;
#endif
