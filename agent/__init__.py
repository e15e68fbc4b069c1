"""The inbound agent: what happens to a customer's text between its arrival and the reply.

Keywords (STOP/HELP/START), language, sentiment, intent, answerability and the escalation policy
make one decision; the responder words it from the knowledge base (an LLM when configured, the
offline path otherwise); effects apply it to the conversation.
"""
