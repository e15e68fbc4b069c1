"""Outbound marketing and transactional sends: templates, personalisation, campaigns and their planning.

Bulk, scheduled, recurring, local-time and best-time sends, A/B and adaptive tests, AI variants
checked against the brand voice, forecasts and reports. Preparation writes each message with its
planned time; ``delivery`` decides at the last step whether it may go.
"""
