"""dietgen's version, in a module of its own: the generated files' banners need it, and the package's
__init__ (the lazy public API, above everything) must not be what the compiler imports it from."""
__version__ = "0.1.0"
