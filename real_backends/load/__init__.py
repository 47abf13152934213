"""Load on the real backends: the shared deployment, servers in child processes, and the load driver.

:mod:`.deployment` builds the JPKI centre and card holders that a server and its clients agree on;
:mod:`.server` runs a backend under uvicorn on a loopback port; the driver (:mod:`.driver`) sends an
open-model arrival stream and writes a run folder comparing measured latency with the queueing model.
"""
