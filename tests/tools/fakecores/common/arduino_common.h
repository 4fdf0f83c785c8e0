/* Stand-in for what every Arduino core here shares with ArduinoCore-API (api/Print.h, api/String.h and
 * api/Common.h, or the core's own copies): only what the project's main uses around the glue. */
#pragma once
#include <stddef.h>

class __FlashStringHelper;
#define F(string_literal) (reinterpret_cast<const __FlashStringHelper *>(string_literal))
#define DEC 10

class Print {
public:
    size_t print(const __FlashStringHelper *);
    size_t print(const char[]);
    size_t print(char);
    size_t print(unsigned char, int = DEC);
    size_t print(int, int = DEC);
    size_t print(unsigned int, int = DEC);
    size_t print(long, int = DEC);
    size_t print(unsigned long, int = DEC);
    size_t println(void);
};

unsigned long millis(void);
