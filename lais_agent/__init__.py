"""LocalAIStack host agent.

This module stays tiny: laisctl imports it on its start-up path.
"""

__version__ = "0.1.0"
