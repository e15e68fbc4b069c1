"""Background work: RQ queues and jobs, the periodic scheduler, the rate limiter."""
