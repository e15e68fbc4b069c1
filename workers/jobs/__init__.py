"""RQ jobs of the worker layer: sends (``send``) and inbound processing (``inbound``)."""
