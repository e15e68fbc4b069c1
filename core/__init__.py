"""What every package stands on: settings, database and Redis, migrations, security (crypto, authentication,
RBAC, 2FA), the audit log and the job-queue plumbing. Imports nothing else of Relais.
"""
