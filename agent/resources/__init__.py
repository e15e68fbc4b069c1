"""Data files the agent loads at run time; a package so that they ship in a wheel.

``sentiment.npz`` is the sentiment head written by ``python -m eval.training.sentiment``;
``places.yaml`` the place groups, other names and cities ``agent.entities`` recognises;
``shorthand.yaml`` the SMS shorthand ``agent.shorthand`` spells out for the models.
"""
