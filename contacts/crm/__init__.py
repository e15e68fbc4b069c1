"""CRM sync: HubSpot (pull contacts, push opt-outs), a signed-webhook upsert feed, and CSV-by-URL."""
