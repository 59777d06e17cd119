"""accord: evaluate text generation, and evaluate the evaluators against human judgments.

The library logs through ``logging.getLogger("accord...")`` and never prints; the ``accord``
command (``accord.cli``) is the only place that writes to the terminal.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
