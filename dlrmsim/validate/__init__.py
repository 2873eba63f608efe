"""`dlrmsim validate`: predict real DLRM training steps on the calibrated host and measure them.

configs (what to run) -> measure (the real step, torch) and predict (the simulator, from the
profile alone, and from nominal datasheet rates) -> report (table, JSON, plot).
"""
