/* Stand-in for Mbed OS 6 as the Arduino mbed core ships it: only what the glue uses. */
#pragma once
#include <stdint.h>

/* cmsis_os2.h */
typedef enum {
    osPriorityNormal = 24,
    osPriorityRealtime = 48,
} osPriority_t;
typedef int32_t osStatus;

/* platform/Callback.h */
namespace mbed {
template <typename F> class Callback;
template <typename R, typename... ArgTs> class Callback<R(ArgTs...)> {
public:
    Callback(R (*func)(ArgTs...));
};
}

namespace rtos {
/* rtos/Thread.h: `Thread(osPriority_t priority = osPriorityNormal, uint32_t stack_size = OS_STACK_SIZE,
 * unsigned char *stack_mem = nullptr, const char *name = nullptr);`, `osStatus start(mbed::Callback<void()>
 * task);` */
class Thread {
public:
    Thread(osPriority_t priority = osPriorityNormal, uint32_t stack_size = 4096, unsigned char *stack_mem = nullptr,
           const char *name = nullptr);
    osStatus start(mbed::Callback<void()> task);
};

}
