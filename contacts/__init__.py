"""Contacts and what is known of them: attributes, segments, the consent ledger, imports and exports,
CRM sync and purchase history (orders).
"""
