"""Background work: RQ worker processes (``relais worker``) and threads, the periodic scheduler, thin jobs.

Each job function only calls a domain package; the rules (when a message may go, what the agent
answers) live there, so a job retried or run by another host decides the same way.
"""
