/* Stand-in for the Arduino mbed core's serial ports (arduino/ArduinoCore-mbed), shared by the Nano 33 BLE and
 * the Portenta H7: only what the glue uses. */
#pragma once
#include "arduino_common.h"

/* cores/arduino/Serial.h: class UART, `void begin(unsigned long);`, `int read(void);` */
namespace arduino {
class UART {
public:
    void begin(unsigned long);
    int read(void);
};
}
extern arduino::UART Serial1;

/* libraries/USBCDC (arduino::USBSerial, Serial is SerialUSB): `void begin(unsigned long)` */
namespace arduino {
class USBSerial : public Print {
public:
    void begin(unsigned long);
};
}
extern arduino::USBSerial SerialUSB;
#define Serial SerialUSB
