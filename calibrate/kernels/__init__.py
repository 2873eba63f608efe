"""Reusable building blocks that run one operation on torch: embedding bags with their sparse
optimizer updates, MLP layers, the dot interaction, memory and PCIe copies, collectives and TCP
transfers. Each exposes a small class usable both by the calibration sweeps (through the
`calibrate.types.Kernel` protocol) and by an end-to-end training step."""
