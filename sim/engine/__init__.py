"""The discrete-event core: fluid (processor-sharing) channels, the flows over them, a timeline."""

from sim.engine.fluid import Channel, FluidNetwork
from sim.engine.timeline import Timeline

__all__ = ["Channel", "FluidNetwork", "Timeline"]
