"""PlatformIO runs `<python> <tool-scons>/scons.py`: hand over to the SCons installed in that Python."""
import sys

import SCons.Script.Main

if __name__ == "__main__":
    sys.exit(SCons.Script.Main.main())
