"""sim: the SimPy discrete-event model of DLRM training (specs, presets, topology, processes).

It never imports torch: profiles and traces reach it as data.
"""
