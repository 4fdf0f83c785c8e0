# dietgen's offline PlatformIO builder: the system compiler named by the project's custom options, no
# registry packages. Options (in the [env] of platformio.ini):
#   custom_cc               the C compiler (gcc, avr-gcc, arm-none-eabi-gcc, aarch64-linux-gnu-gcc, ...)
#   custom_cflags           CPU flags, for compiling and linking (-mmcu=..., -mcpu=..., -mfpu=...)
#   custom_ldflags          link-only flags; --specs=... given here are not mangled as in build_flags
#   custom_arduino_core     a folder with cores/arduino and variants/ (Debian's arduino-core-avr) to build
#                           the Arduino framework from; absent: no framework
#   custom_arduino_variant  the variants/ subfolder (standard, mega, ...)
#   custom_arduino_board    the ARDUINO_<board> macro the core's libraries test (AVR_UNO, ...)
import os
import shutil

from SCons.Script import Builder, Default, DefaultEnvironment

env = DefaultEnvironment()


def option(name, default=""):
    return env.GetProjectOption("custom_" + name, default).strip()


cc = option("cc", "gcc")
if not shutil.which(cc):
    raise SystemExit("dietgen offline build: compiler %s not found; install it (see the project's README)" % cc)
prefix = cc[:-3] if cc.endswith("gcc") else ""
cxx = prefix + "g++"
cpu_flags = option("cflags").split()
is_avr = cc.startswith("avr-")
# Bare-metal newlib has no operating system under it: nosys supplies the syscalls as stubs.
bare_metal = cc.startswith("arm-none-eabi-")

env.Replace(
    CC=cc, CXX=cxx, AS=cc, LINK=cc,
    AR=prefix + "ar" if shutil.which(prefix + "ar") else "ar",
    RANLIB=prefix + "ranlib" if shutil.which(prefix + "ranlib") else "ranlib",
    OBJCOPY=prefix + "objcopy", SIZETOOL=prefix + "size",
    PROGNAME="firmware", PROGSUFFIX=".elf",
)
env.Append(
    CCFLAGS=cpu_flags + ["-Os" if is_avr else "-O2", "-ffunction-sections", "-fdata-sections", "-Wall"],
    CXXFLAGS=["-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"],
    ASFLAGS=cpu_flags + ["-x", "assembler-with-cpp"],
    LINKFLAGS=cpu_flags + ["-Wl,--gc-sections"] + option("ldflags").split()
    + (["--specs=nano.specs", "--specs=nosys.specs"] if bare_metal else []),
    LIBS=["m"],
)
if is_avr:
    # avr-gcc 5.4's C++ headers miss this C11 macro the Arduino core's headers expect.
    env.Append(CPPDEFINES=[("DECIMAL_DIG", "__DECIMAL_DIG__")])

core = option("arduino_core")
if core:
    variant = option("arduino_variant", "standard")
    env.Append(
        CPPDEFINES=[("ARDUINO", 10807), "ARDUINO_" + option("arduino_board", "AVR_UNO"), "ARDUINO_ARCH_AVR"],
        CPPPATH=[os.path.join(core, "cores", "arduino"), os.path.join(core, "variants", variant)],
        CXXFLAGS=["-std=gnu++11", "-fpermissive"],
    )
    framework = env.Clone()
    # The core is old C/C++ that warns under -Wall; it is not ours to fix.
    framework.Append(CCFLAGS=["-w"])
    # wiring_pulse.S and wiring_pulse.c would both make wiring_pulse.o: the assembly goes in a library of its own.
    sources = os.path.join(core, "cores", "arduino")
    env.Prepend(LIBS=[
        framework.BuildLibrary(os.path.join("$BUILD_DIR", "FrameworkArduino"), sources, "+<*> -<*.S>"),
        framework.BuildLibrary(os.path.join("$BUILD_DIR", "FrameworkArduinoAsm"), sources, "-<*> +<*.S>")])

program = env.BuildProgram()
targets = [program]
if is_avr:
    env.Append(BUILDERS={"ElfToHex": Builder(
        action="$OBJCOPY -O ihex -R .eeprom $SOURCE $TARGET", suffix=".hex", src_suffix=".elf")})
    targets.append(env.ElfToHex(os.path.join("$BUILD_DIR", "${PROGNAME}"), program))

Default(targets)
