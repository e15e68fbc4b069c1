"""Providers behind one ``Channel`` interface (the simulator, Vonage, SMPP), phone numbers and their
time zones, GSM-7/UCS-2 encoding and segments, and the senders a business texts from.
"""
