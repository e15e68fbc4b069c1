"""Cues read in six languages (agent/resources/cues.yaml): a request to be contacted, urgency, a legal threat,
damage, outrage, an order still not arrived."""

from __future__ import annotations

import pytest

from agent.cues import cues


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dringend, bitte melden Sie sich", {"contact", "urgent"}),
        ("Rappelez-moi dès que possible", {"contact"}),
        ("¿Pueden llamarme? Llámenme al fijo", {"contact"}),
        ("Mi richiami per favore", {"contact"}),
        ("Liguem-me amanhã de manhã", {"contact"}),
        ("Please get back to me today", {"contact"}),
        ("c'est une urgence", {"urgent"}),
        ("Das ist eine Frechheit! Ich will sofort mein Geld zurück, sonst gehe ich zum Anwalt!", {"legal", "outrage"}),
        ("Je vais porter plainte", {"legal"}),
        ("I'll file a chargeback with my bank", {"legal"}),
        ("Os voy a denunciar", {"legal"}),
        ("Vi faccio causa", {"legal"}),
        ("Vou falar com um advogado", {"legal"}),
        ("Ich wende mich an die Verbraucherzentrale", {"legal"}),
        ("A minha encomenda chegou estragada", {"damaged"}),
        ("A jarra chegou partida", {"damaged"}),
        ("The cushion I got is the wrong colour", {"damaged"}),
        ("You sent me the wrong size", {"damaged"}),
        ("J'ai reçu la mauvaise taille", {"damaged"}),
        ("Me llegó la talla equivocada", {"damaged"}),
        ("Ho ricevuto il colore sbagliato", {"damaged"}),
        ("Ich habe die falsche Größe bekommen", {"damaged"}),
        ("Recebi o tamanho errado", {"damaged"}),
        ("Die Vase ist kaputt", {"damaged"}),
        ("Ich will mein Geld zurück, das ist eine Frechheit", {"outrage"}),
        ("Das ist Abzocke, ich will mein Geld zurück!", {"outrage"}),
        ("I want my money back, this is a rip-off", {"outrage"}),
        ("C'est une arnaque, remboursez-moi", {"outrage"}),
        ("Sois unos sinvergüenzas, quiero mi dinero", {"outrage"}),
        ("È una vergogna, rivoglio i miei soldi", {"outrage"}),
        ("Vocês são uns vigaristas", {"outrage"}),
        ("This is the third time I'm asking. Where is my refund??", {"repeated"}),
        ("Je vous ai déjà demandé, toujours pas de réponse", {"repeated"}),
        ("Es la tercera vez que escribo", {"repeated"}),
        ("Ich habe schon mehrfach gefragt, niemand antwortet", {"repeated"}),
        ("Nessuno risponde, è la terza volta", {"repeated"}),
        ("Já perguntei, continuo sem resposta", {"repeated"}),
        # an order not arrived, still or after a stated wait
        ("ma commande n'est toujours pas arrivée, ça fait 10 jours", {"late"}),
        ("My parcel still hasn't arrived", {"late"}),
        ("Meine Bestellung ist seit zwei Wochen nicht angekommen", {"late"}),
        ("Mi pedido sigue sin llegar", {"late"}),
        ("Il pacco non è arrivato, lo aspetto da 12 giorni", {"late"}),
        ("A encomenda ainda não chegou, já passaram 2 semanas", {"late"}),
        # an order said to be late, whatever the wait
        ("I'm disappointed, my parcel is late, where is it?", {"late"}),
        ("Ma commande est en retard", {"late"}),
        ("Mi pedido va con retraso", {"late"}),
        ("Meine Bestellung ist verspätet", {"late"}),
        ("Il mio ordine è in ritardo", {"late"}),
        ("A minha encomenda está atrasada", {"late"}),
        # still nothing: the customer chases what has not come
        ("Toujours rien ??", {"repeated"}),
        ("still nothing?", {"repeated"}),
        ("¿Todavía nada?", {"repeated"}),
        ("Immer noch nichts!", {"repeated"}),
        ("Ancora niente...", {"repeated"}),
        ("Ainda nada?", {"repeated"}),
    ],
)
def test_cues_are_found_in_every_language(text: str, expected: set[str]) -> None:
    assert cues(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Bitte melden Sie mich von den SMS ab",  # an opt-out, not a request to be contacted
        "Le délai est court ?",  # "court" is French for short
        "Vous avez des articles déco ?",
        "Quel est le processus de retour ?",
        "Ist das Gericht im Katalog eine Schale?",
        "Non è arrivato a causa dello sciopero?",
        "Quero o estorno do meu pedido",  # a refund, asked for
        "How can I contact you?",
        "When will I get my money back?",
        "Qual a data de partida da encomenda?",  # a departure, not "broken"
        "Ma lampe ne marche plus, elle est garantie ?",  # a warranty question
        "Avete candele al timo?",  # thyme, not "un timo" (es: a swindle)
        "Is payment on your site protected against fraud?",
        "Das Paket ist unmöglich zu finden",
        "O meu pacote foi roubado?",
        "Der Betrag betrug 120 Euro, wann kommt die Erstattung?",  # "amounted to", not fraud
        "Je peux payer en plusieurs fois ?",  # instalments, not asked several times
        "I was late to order, can I still get the discount?",  # the customer late, not the order
        "Is express delivery ever late?",
        "Il est en retard ?",  # no order named
        "Rien d'autre, merci !",
        "C'est ma deuxième commande, la livraison est offerte ?",
        "¿Puedo pedir una segunda vez el mismo cojín?",
        # the customer's own wrong size or colour asks for an exchange, not a person
        "wrong size, could I change it for a bigger one?",
        "I ordered the wrong colour, what can I do?",
        "J'ai commandé la mauvaise taille, je peux l'échanger ?",
        "Pedí la talla equivocada, ¿puedo cambiarla?",
        "Ho scelto la taglia sbagliata, posso cambiarla?",
        "Ich habe die falsche Größe bestellt, kann ich tauschen?",
        "Escolhi o tamanho errado, posso trocar?",
        # an order not yet arrived, with no wait stated, asks where it is; a refund not received is answered
        "my order hasn't arrived yet, when will it come?",
        "Dov'è il mio ordine? Non è ancora arrivato.",
        "Mi pedido todavía no ha llegado, ¿dónde está?",
        "Where is my order? I ordered on Monday.",
        "My refund still hasn't arrived after two weeks, what's going on?",
        "Je n'ai toujours pas reçu mon remboursement, c'est normal ?",
    ],
)
def test_ordinary_words_are_no_cues(text: str) -> None:
    assert cues(text) == frozenset()


@pytest.mark.parametrize("text", [
    "j'ai reçu ma commande mais il manque une bougie", "I got my parcel but a candle is missing",
    "Me llegó el pedido pero falta una vela", "Nel pacco manca una candela", "In meinem Paket fehlt eine Kerze",
    "Chegou a encomenda mas falta uma vela"])
def test_an_item_missing_from_the_order_is_reported_like_a_damaged_one(text: str) -> None:
    """"il manque une bougie" after receiving the order got the tracking link: a person looks the order up."""
    assert "damaged" in cues(text)


@pytest.mark.parametrize("text", ["¿Cuánto falta para que llegue mi pedido?",
                                  "quanto manca alla consegna del mio ordine?",
                                  "Mir fehlt die Sendungsnummer für meine Bestellung", "Il me manque le code promo"])
def test_how_long_until_and_a_missing_number_are_no_missing_item(text: str) -> None:
    assert "damaged" not in cues(text)
