"""dlrmsim: the command line and the workflows that join `sim`, `traces` and `calibrate`.

This is the one thin place allowed to import all three packages (see DESIGN.md); `sim/` itself
never imports torch, and `calibrate/` imports only torch, numpy and the standard library.
"""

__version__ = "0.1.0"
