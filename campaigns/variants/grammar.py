"""Phrase grammars of the offline variant generator, one per supported language.

Each language has: how an offer reads alone (``offers``) and attached to a product (``deals``),
a generic product for a brief that names none, how a deadline reads (``until``), message
templates per *angle* (urgency, benefit, question, social proof, exclusivity, news, occasion),
closing calls to action per tone, and the names of common occasions. Templates only put a
product where no article or gender agreement is needed (after a colon, as a headline), so any
noun phrase or name fits; ``{Deal}`` / ``{Product}`` / ``{Occasion}`` are the same values with a
capital first letter for the start of a sentence. French uses "vous"; German, Spanish and Italian
"du / tú / tu", Portuguese "você" (implied), as most retail texts in those markets do.

Every phrase is written in GSM-7 where the language has a wording that is: one character outside it
sends the whole text as UCS-2, 70 characters a segment instead of 160 (often twice the segments, twice
the cost). So "A très vite !" (a capital's accent is commonly dropped in French texts), Spanish "portes
gratis", Portuguese "leve 3, pague 2"; Babel's French "août" is written "aout" (1990 spelling reform).
What is left are words with no GSM-7 spelling ("Noël", "fête", "colección", "Mãe", "sábado"...), listed
and explained in tests/campaigns/test_variants_gsm7.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.responder.prompts import LANGUAGE_NAMES

ANGLES: tuple[str, ...] = ("urgency", "benefit", "question", "social_proof", "exclusivity", "news")
OCCASION_ANGLE = "occasion"


def language_name(code: str) -> str:
    """"French" for "fr" (the code itself for a language without a grammar)."""
    return LANGUAGE_NAMES.get(code, code)


@dataclass(frozen=True)
class Grammar:
    brand_prefix: str
    offers: dict[str, str]
    deals: dict[str, str]
    generic_product: str
    until: dict[str, str]  # "date" (with the weekday), "short_date" (without), today, tomorrow, weekend
    date_patterns: tuple[str, str]  # Babel patterns: with the weekday, and the shorter one
    with_offer: dict[str, tuple[str, ...]]
    without_offer: dict[str, tuple[str, ...]]
    ctas: dict[str, tuple[str, ...]]
    link_ctas: tuple[str, ...]
    occasions: dict[str, str]
    amount_before: bool = False  # "€10" (English) or "10 €"
    #: Babel's words written in a GSM-7 spelling the language accepts (French "aout", 1990 reform)
    spellings: tuple[tuple[str, str], ...] = ()

    def respell(self, text: str) -> str:
        """``text`` (a date Babel wrote) with ``spellings`` applied."""
        for word, spelling in self.spellings:
            text = text.replace(word, spelling)
        return text


GRAMMARS: dict[str, Grammar] = {
    "en": Grammar(
        brand_prefix="{brand}: ",
        offers={"percent": "{n}% off", "amount": "{amt} off", "free_shipping": "free delivery",
                "bundle": "{a} for the price of {b}"},
        deals={"percent": "{n}% off {product}", "amount": "{amt} off {product}",
               "free_shipping": "free delivery on {product}", "bundle": "{product}: {a} for the price of {b}"},
        generic_product="our selection",
        until={"date": " until {date}", "short_date": " until {date}",
               "today": " today only", "tomorrow": " until tomorrow",
               "weekend": " this weekend"},
        date_patterns=("EEEE d MMMM", "d MMMM"),
        with_offer={
            "urgency": ("Last chance: {deal}{until}.", "Hurry, {deal}{until}. Don't miss out."),
            "benefit": ("Treat yourself: {deal}{until}.", "More for less: {deal}{until}."),
            "question": ("Ready for something new? {Deal}{until}.", "Still thinking about it? {Deal}{until}."),
            "social_proof": ("A customer favourite: {deal}{until}.", "Loved by our customers: {deal}{until}."),
            "exclusivity": ("Just for you: {deal}{until}.", "A little something for you: {deal}{until}."),
            "news": ("New at {brand}: {deal}{until}.", "{brand} news: {deal}{until}."),
            "occasion": ("{Occasion} at {brand}: {deal}{until}.", "{Occasion}: {deal}{until}."),
        },
        without_offer={
            "urgency": ("Last chance: {product}{until}.", "Don't wait: {product}{until}, while stocks last."),
            "benefit": ("Treat yourself: {product}{until}.", "Something you'll love: {product}{until}."),
            "question": ("Looking for something new? {Product}{until}, in store and online.",
                         "Looking for an idea? {Product}{until}."),
            "social_proof": ("A customer favourite: {product}{until}.", "Our customers' favourites: {product}."),
            "exclusivity": ("Just for you: {product}{until}.", "Be among the first to see it: {product}."),
            "news": ("New at {brand}: {product}{until}.", "Just in at {brand}: {product}."),
            "occasion": ("{Occasion} at {brand}: {product}{until}.", "{Occasion}: {product}{until}."),
        },
        ctas={"friendly": ("See you soon!", "Come and take a look.", "We can't wait to see you."),
              "premium": ("We look forward to welcoming you.", "Discover it in store and online."),
              "playful": ("Go on, treat yourself!", "You know you want to."),
              "direct": ("Shop now.", "Order today.")},
        link_ctas=("Shop now: {link}", "See more: {link}", "Take a look: {link}"),
        occasions={"sale": "sale", "winter_sale": "winter sale", "summer_sale": "summer sale",
                   "black_friday": "Black Friday", "christmas": "Christmas", "new_collection": "new collection",
                   "back_in_stock": "back in stock", "mothers_day": "Mother's Day",
                   "valentines_day": "Valentine's Day"},
        amount_before=True,
    ),
    "fr": Grammar(
        brand_prefix="{brand} : ",
        offers={"percent": "-{n} %", "amount": "{amt} de remise", "free_shipping": "la livraison offerte",
                "bundle": "{a} pour le prix de {b}"},
        deals={"percent": "{product} à -{n} %", "amount": "{product} avec {amt} de remise",
               "free_shipping": "{product} avec la livraison offerte",
               "bundle": "{product} : {a} pour le prix de {b}"},
        generic_product="notre sélection",
        until={"date": " jusqu'au {date}", "short_date": " jusqu'au {date}",
               "today": " aujourd'hui seulement", "tomorrow": " jusqu'à demain",
               "weekend": " ce week-end"},
        date_patterns=("EEEE d MMMM", "d MMMM"),
        with_offer={
            "urgency": ("Dernière chance : {deal}{until}.", "Ne tardez pas : {deal}{until}."),
            "benefit": ("Faites-vous plaisir : {deal}{until}.", "Le bon moment pour craquer : {deal}{until}."),
            "question": ("Envie de nouveauté ? {Deal}{until}.", "Vous hésitiez encore ? {Deal}{until}."),
            "social_proof": ("Le choix de nos clients : {deal}{until}.",
                             "Les favoris de nos clients : {deal}{until}."),
            "exclusivity": ("Rien que pour vous : {deal}{until}.", "Une attention pour vous : {deal}{until}."),
            "news": ("Du nouveau chez {brand} : {deal}{until}.", "Les nouvelles de {brand} : {deal}{until}."),
            "occasion": ("{Occasion} chez {brand} : {deal}{until}.", "{Occasion} : {deal}{until}."),
        },
        without_offer={
            "urgency": ("Dernière chance : {product}{until}.",
                        "Ne tardez pas : {product}{until}, dans la limite des stocks."),
            "benefit": ("Faites-vous plaisir : {product}{until}.", "Un petit plaisir : {product}{until}."),
            "question": ("Envie de nouveauté ? {Product}{until}, en boutique et en ligne.",
                         "Vous cherchez une idée ? {Product}{until}."),
            "social_proof": ("Le choix de nos clients : {product}{until}.", "Les favoris de nos clients : {product}."),
            "exclusivity": ("Rien que pour vous : {product}{until}.", "En avant-première pour vous : {product}."),
            "news": ("Du nouveau chez {brand} : {product}{until}.", "Nouveautés chez {brand} : {product}."),
            "occasion": ("{Occasion} chez {brand} : {product}{until}.", "{Occasion} : {product}{until}."),
        },
        ctas={"friendly": ("A très vite !", "On vous attend en boutique.", "Passez nous voir !"),
              "premium": ("Au plaisir de vous accueillir.", "A découvrir en boutique et en ligne."),
              "playful": ("Allez, on craque !", "Vous l'avez bien mérité."),
              "direct": ("Commandez dès maintenant.", "En boutique et en ligne.")},
        link_ctas=("Pour en profiter : {link}", "Tout est ici : {link}", "Commandez sur {link}"),
        occasions={"sale": "soldes", "winter_sale": "soldes d'hiver", "summer_sale": "soldes d'été",
                   "black_friday": "Black Friday", "christmas": "Noël", "new_collection": "nouvelle collection",
                   "back_in_stock": "retour en stock", "mothers_day": "fête des mères",
                   "valentines_day": "Saint-Valentin"},
        spellings=(("août", "aout"),),
    ),
    "es": Grammar(
        brand_prefix="{brand}: ",
        offers={"percent": "un {n} % de descuento", "amount": "{amt} de descuento", "free_shipping": "portes gratis",
                "bundle": "{a} por el precio de {b}"},
        deals={"percent": "{product} con un {n} % de descuento", "amount": "{product} con {amt} de descuento",
               "free_shipping": "{product} con portes gratis", "bundle": "{product}: {a} por el precio de {b}"},
        generic_product="nuestros productos",
        until={"date": " hasta el {date}", "short_date": " hasta el {date}",
               "today": " solo hoy", "tomorrow": " hasta mañana",
               "weekend": " este fin de semana"},
        date_patterns=("EEEE d 'de' MMMM", "d 'de' MMMM"),
        with_offer={
            "urgency": ("Aprovecha ahora: {deal}{until}.", "No lo dejes escapar: {deal}{until}."),
            "benefit": ("Date un capricho: {deal}{until}.", "Es el momento: {deal}{until}."),
            "question": ("¿Buscas algo nuevo? {Deal}{until}.", "¿Lo sigues pensando? {Deal}{until}."),
            "social_proof": ("Lo que eligen nuestros clientes: {deal}{until}.",
                             "Los favoritos de nuestros clientes: {deal}{until}."),
            "exclusivity": ("Solo para ti: {deal}{until}.", "Un detalle para ti: {deal}{until}."),
            "news": ("Novedades en {brand}: {deal}{until}.", "Lo nuevo de {brand}: {deal}{until}."),
            "occasion": ("{Occasion} en {brand}: {deal}{until}.", "{Occasion}: {deal}{until}."),
        },
        without_offer={
            "urgency": ("Aprovecha ahora: {product}{until}.",
                        "No lo dejes escapar: {product}{until}, hasta agotar existencias."),
            "benefit": ("Date un capricho: {product}{until}.", "Algo que te va a encantar: {product}{until}."),
            "question": ("¿Buscas algo nuevo? {Product}{until}, en tienda y online.",
                         "¿Buscas una idea? {Product}{until}."),
            "social_proof": ("Lo que eligen nuestros clientes: {product}{until}.",
                             "Los favoritos de nuestros clientes: {product}."),
            "exclusivity": ("Solo para ti: {product}{until}.", "En primicia para ti: {product}."),
            "news": ("Novedades en {brand}: {product}{until}.", "Lo nuevo de {brand}: {product}."),
            "occasion": ("{Occasion} en {brand}: {product}{until}.", "{Occasion}: {product}{until}."),
        },
        ctas={"friendly": ("¡Te esperamos!", "¡Hasta pronto!", "Ven a verlo."),
              "premium": ("Te esperamos con gusto.", "Ya en tienda y online."),
              "playful": ("¡Venga, date el gusto!", "Te lo mereces."),
              "direct": ("Compra ya.", "Pide hoy mismo.")},
        link_ctas=("Descubre todo en {link}", "Compra ya: {link}", "Entra en {link}"),
        occasions={"sale": "rebajas", "winter_sale": "rebajas de invierno", "summer_sale": "rebajas de verano",
                   "black_friday": "Black Friday", "christmas": "Navidad", "new_collection": "nueva colección",
                   "back_in_stock": "de nuevo disponible", "mothers_day": "Día de la Madre",
                   "valentines_day": "San Valentín"},
    ),
    "de": Grammar(
        brand_prefix="{brand}: ",
        offers={"percent": "{n} % Rabatt", "amount": "{amt} Rabatt", "free_shipping": "kostenloser Versand",
                "bundle": "{a} zum Preis von {b}"},
        deals={"percent": "{n} % Rabatt auf {product}", "amount": "{amt} Rabatt auf {product}",
               "free_shipping": "{product} mit kostenlosem Versand", "bundle": "{product}: {a} zum Preis von {b}"},
        generic_product="unsere Auswahl",
        until={"date": " bis {date}", "short_date": " bis zum {date}",
               "today": " nur heute", "tomorrow": " bis morgen",
               "weekend": " dieses Wochenende"},
        date_patterns=("EEEE, d. MMMM", "d. MMMM"),
        with_offer={
            "urgency": ("Letzte Chance: {deal}{until}.", "Nicht verpassen: {deal}{until}."),
            "benefit": ("Gönn dir was: {deal}{until}.", "Jetzt sparen: {deal}{until}."),
            "question": ("Lust auf etwas Neues? {Deal}{until}.", "Noch unentschlossen? {Deal}{until}."),
            "social_proof": ("Der Liebling unserer Kunden: {deal}{until}.",
                             "Die Favoriten unserer Kunden: {deal}{until}."),
            "exclusivity": ("Nur für dich: {deal}{until}.", "Eine kleine Aufmerksamkeit für dich: {deal}{until}."),
            "news": ("Neu bei {brand}: {deal}{until}.", "Neuigkeiten von {brand}: {deal}{until}."),
            "occasion": ("{Occasion} bei {brand}: {deal}{until}.", "{Occasion}: {deal}{until}."),
        },
        without_offer={
            "urgency": ("Letzte Chance: {product}{until}.",
                        "Nicht verpassen: {product}{until}, solange der Vorrat reicht."),
            "benefit": ("Gönn dir was: {product}{until}.", "Etwas Schönes für dich: {product}{until}."),
            "question": ("Lust auf etwas Neues? {Product}{until}, im Laden und online.",
                         "Auf der Suche nach einer Idee? {Product}{until}."),
            "social_proof": ("Der Liebling unserer Kunden: {product}{until}.",
                             "Die Favoriten unserer Kunden: {product}."),
            "exclusivity": ("Nur für dich: {product}{until}.", "Als Erste entdecken: {product}."),
            "news": ("Neu bei {brand}: {product}{until}.", "Frisch eingetroffen bei {brand}: {product}."),
            "occasion": ("{Occasion} bei {brand}: {product}{until}.", "{Occasion}: {product}{until}."),
        },
        ctas={"friendly": ("Bis bald!", "Schau vorbei!", "Wir freuen uns auf dich."),
              "premium": ("Wir freuen uns auf deinen Besuch.", "Im Laden und online zu entdecken."),
              "playful": ("Na los, gönn dir was!", "Du hast es dir verdient."),
              "direct": ("Jetzt bestellen.", "Gleich zugreifen.")},
        link_ctas=("Jetzt entdecken: {link}", "Hier bestellen: {link}", "Mehr unter {link}"),
        occasions={"sale": "Sale", "winter_sale": "Winter-Sale", "summer_sale": "Sommer-Sale",
                   "black_friday": "Black Friday", "christmas": "Weihnachten", "new_collection": "neue Kollektion",
                   "back_in_stock": "wieder da", "mothers_day": "Muttertag", "valentines_day": "Valentinstag"},
    ),
    "it": Grammar(
        brand_prefix="{brand}: ",
        offers={"percent": "il {n}% di sconto", "amount": "{amt} di sconto", "free_shipping": "spedizione gratuita",
                "bundle": "{a} al prezzo di {b}"},
        deals={"percent": "{product} con il {n}% di sconto", "amount": "{product} con {amt} di sconto",
               "free_shipping": "{product} con spedizione gratuita", "bundle": "{product}: {a} al prezzo di {b}"},
        generic_product="la nostra selezione",
        until={"date": " fino a {date}", "short_date": " fino al {date}",
               "today": " solo oggi", "tomorrow": " fino a domani",
               "weekend": " questo weekend"},
        date_patterns=("EEEE d MMMM", "d MMMM"),
        with_offer={
            "urgency": ("Ultima occasione: {deal}{until}.", "Non aspettare: {deal}{until}."),
            "benefit": ("Concediti un regalo: {deal}{until}.", "Approfittane subito: {deal}{until}."),
            "question": ("Voglia di qualcosa di nuovo? {Deal}{until}.", "Ci stai ancora pensando? {Deal}{until}."),
            "social_proof": ("I preferiti dei nostri clienti: {deal}{until}.",
                             "La scelta dei nostri clienti: {deal}{until}."),
            "exclusivity": ("Solo per te: {deal}{until}.", "Un pensiero per te: {deal}{until}."),
            "news": ("Novità da {brand}: {deal}{until}.", "Le novità di {brand}: {deal}{until}."),
            "occasion": ("{Occasion} da {brand}: {deal}{until}.", "{Occasion}: {deal}{until}."),
        },
        without_offer={
            "urgency": ("Ultima occasione: {product}{until}.",
                        "Non aspettare: {product}{until}, fino a esaurimento scorte."),
            "benefit": ("Concediti un regalo: {product}{until}.", "Qualcosa che adorerai: {product}{until}."),
            "question": ("Voglia di qualcosa di nuovo? {Product}{until}, in negozio e online.",
                         "Cerchi un'idea? {Product}{until}."),
            "social_proof": ("I preferiti dei nostri clienti: {product}{until}.",
                             "La scelta dei nostri clienti: {product}."),
            "exclusivity": ("Solo per te: {product}{until}.", "In anteprima per te: {product}."),
            "news": ("Novità da {brand}: {product}{until}.", "Le novità di {brand}: {product}."),
            "occasion": ("{Occasion} da {brand}: {product}{until}.", "{Occasion}: {product}{until}."),
        },
        ctas={"friendly": ("A presto!", "Ti aspettiamo!", "Passa a trovarci."),
              "premium": ("Sarà un piacere accoglierti.", "Da scoprire in negozio e online."),
              "playful": ("Dai, concediti un regalo!", "Te lo meriti."),
              "direct": ("Acquista ora.", "Ordina oggi.")},
        link_ctas=("Scopri di più: {link}", "Acquista ora: {link}", "Tutto su {link}"),
        occasions={"sale": "saldi", "winter_sale": "saldi invernali", "summer_sale": "saldi estivi",
                   "black_friday": "Black Friday", "christmas": "Natale", "new_collection": "nuova collezione",
                   "back_in_stock": "di nuovo disponibile", "mothers_day": "festa della mamma",
                   "valentines_day": "San Valentino"},
    ),
    "pt": Grammar(
        brand_prefix="{brand}: ",
        offers={"percent": "{n}% de desconto", "amount": "{amt} de desconto", "free_shipping": "entrega gratuita",
                "bundle": "leve {a}, pague {b}"},
        deals={"percent": "{product} com {n}% de desconto", "amount": "{product} com {amt} de desconto",
               "free_shipping": "{product} com entrega gratuita", "bundle": "{product}: leve {a}, pague {b}"},
        generic_product="os nossos produtos",
        until={"date": " até {date}", "short_date": " até {date}",
               "today": " apenas hoje", "tomorrow": " até amanhã",
               "weekend": " neste fim de semana"},
        date_patterns=("EEEE, d 'de' MMMM", "d 'de' MMMM"),
        with_offer={
            "urgency": ("Aproveite agora: {deal}{until}.", "Falta pouco: {deal}{until}."),
            "benefit": ("Mime-se: {deal}{until}.", "Chegou a hora: {deal}{until}."),
            "question": ("Procura algo novo? {Deal}{until}.", "Ainda a pensar nisso? {Deal}{until}."),
            "social_proof": ("Os favoritos dos nossos clientes: {deal}{until}.",
                             "A escolha dos nossos clientes: {deal}{until}."),
            "exclusivity": ("Em exclusivo: {deal}{until}.", "Um mimo especial: {deal}{until}."),
            "news": ("Novidades {brand}: {deal}{until}.", "Acabou de chegar: {deal}{until}."),
            "occasion": ("{Occasion}: {deal}{until}.", "É tempo de {occasion}: {deal}{until}."),
        },
        without_offer={
            "urgency": ("Aproveite agora: {product}{until}.",
                        "Falta pouco: {product}{until}, enquanto durarem os estoques."),
            "benefit": ("Mime-se: {product}{until}.", "Vai adorar: {product}{until}."),
            "question": ("Procura algo novo? {Product}{until}, na loja e online.",
                         "Procura uma ideia? {Product}{until}."),
            "social_proof": ("Os favoritos dos nossos clientes: {product}{until}.",
                             "A escolha dos nossos clientes: {product}."),
            "exclusivity": ("Em exclusivo: {product}{until}.", "Antes de todos: {product}."),
            "news": ("Novidades {brand}: {product}{until}.", "Acabou de chegar: {product}."),
            "occasion": ("{Occasion}: {product}{until}.", "É tempo de {occasion}: {product}{until}."),
        },
        ctas={"friendly": ("Até breve!", "Estamos à sua espera!", "Venha conferir."),
              "premium": ("Esperamos a sua visita.", "Para descobrir na loja e online."),
              "playful": ("Vamos, mime-se!", "É bem merecido."),
              "direct": ("Compre agora.", "Encomende hoje.")},
        link_ctas=("Descubra aqui: {link}", "Compre agora: {link}", "Saiba mais em {link}"),
        occasions={"sale": "saldos", "winter_sale": "saldos de inverno", "summer_sale": "saldos de verão",
                   "black_friday": "Black Friday", "christmas": "Natal", "new_collection": "nova coleção",
                   "back_in_stock": "de volta ao estoque", "mothers_day": "Dia da Mãe",
                   "valentines_day": "Dia dos Namorados"},
    ),
}
