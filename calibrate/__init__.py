"""calibrate: time real embedding, MLP and interaction kernels and measure memory, PCIe and
network bandwidth on this host, and write them with fitted cost models into a versioned profile.

Runs on a bare GPU host: at run time it imports only torch, numpy and the standard library
(FBGEMM is used when installed, never required). Entry points: `python -m calibrate` and
`dlrmsim calibrate`; see `calibrate.cli`.
"""

from calibrate.errors import CalibrationError

__all__ = ["CalibrationError"]
