"""REST and webhook routers; each module's ``router`` is included by ``api.app``."""
