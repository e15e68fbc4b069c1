"""Threads and messages: a conversation's state (bot, queued, human, closed), its lock, inbound persistence.

An inbound text is stored here before anything processes it, so a crash never loses one.
"""
