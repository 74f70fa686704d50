"""The demo venue's menu and floor: a British gastropub, 40 items in 6 categories.

Prices are pence, VAT included. UK VAT: hot food and eat-in food 20%; cold takeaway food 0%;
drinks 20% either way.
"""

from __future__ import annotations

import uuid
from typing import Any

# group name -> (min, max, [(option, price delta)])
MODIFIER_GROUPS: dict[str, tuple[int, int, list[tuple[str, int]]]] = {
    "Cooking": (1, 1, [("Rare", 0), ("Medium rare", 0), ("Medium", 0), ("Well done", 0)]),
    "Sauce": (0, 1, [("Peppercorn", 250), ("Béarnaise", 250), ("Blue cheese", 250)]),
    "Extras": (0, 3, [("Bacon", 150), ("Cheddar", 100), ("Fried egg", 120), ("Avocado", 180)]),
    "Milk": (1, 1, [("Whole", 0), ("Semi-skimmed", 0), ("Oat", 40), ("Soy", 40)]),
    "Size": (1, 1, [("175ml", 0), ("250ml", 250), ("Bottle", 1600)]),
    "Mixer": (0, 1, [("Tonic", 0), ("Slimline tonic", 0), ("Ginger ale", 0), ("Lemonade", 0)]),
    "Ice cream": (0, 2, [("Vanilla", 0), ("Chocolate", 0), ("Salted caramel", 50)]),
}

# (name, station) -> [(item, price, vat eat-in, vat takeaway, allergens, modifier groups)]
CATEGORIES: list[tuple[str, str, list[tuple[str, int, str, str, list[str], list[str]]]]] = [
    ("Starters", "kitchen", [
        ("Soup of the day", 650, "20.00", "20.00", ["celery", "gluten"], []),
        ("Scotch egg", 750, "20.00", "0.00", ["egg", "gluten", "mustard"], []),
        ("Salt & pepper squid", 850, "20.00", "20.00", ["molluscs", "gluten"], []),
        ("Chicken liver pâté", 800, "20.00", "0.00", ["milk", "gluten", "sulphites"], []),
        ("Burrata & heritage tomatoes", 950, "20.00", "0.00", ["milk"], []),
        ("Garlic flatbread", 550, "20.00", "20.00", ["gluten", "milk"], ["Extras"]),
    ]),
    ("Mains", "kitchen", [
        ("Fish & chips", 1650, "20.00", "20.00", ["fish", "gluten"], []),
        ("8oz sirloin steak", 2600, "20.00", "20.00", [], ["Cooking", "Sauce"]),
        ("Fynlo beef burger", 1550, "20.00", "20.00", ["gluten", "milk", "sesame"], ["Cooking", "Extras"]),
        ("Halloumi burger", 1450, "20.00", "20.00", ["gluten", "milk", "sesame"], ["Extras"]),
        ("Pie of the day", 1600, "20.00", "20.00", ["gluten", "celery"], []),
        ("Sunday roast beef", 1900, "20.00", "20.00", ["gluten", "milk", "egg"], ["Cooking"]),
        ("Wild mushroom risotto", 1400, "20.00", "20.00", ["milk", "celery"], []),
        ("Caesar salad", 1200, "20.00", "0.00", ["egg", "fish", "milk", "gluten"], ["Extras"]),
        ("Bangers & mash", 1450, "20.00", "20.00", ["gluten", "sulphites", "milk"], []),
    ]),
    ("Sides", "kitchen", [
        ("Chips", 450, "20.00", "20.00", [], []),
        ("Sweet potato fries", 500, "20.00", "20.00", [], []),
        ("Onion rings", 450, "20.00", "20.00", ["gluten"], []),
        ("House salad", 400, "20.00", "0.00", ["mustard"], []),
        ("Mac & cheese", 550, "20.00", "20.00", ["gluten", "milk"], ["Extras"]),
        ("Seasonal greens", 450, "20.00", "20.00", ["milk"], []),
    ]),
    ("Desserts", "kitchen", [
        ("Sticky toffee pudding", 750, "20.00", "20.00", ["gluten", "milk", "egg"], ["Ice cream"]),
        ("Chocolate brownie", 700, "20.00", "0.00", ["gluten", "milk", "egg", "nuts"], ["Ice cream"]),
        ("Eton mess", 700, "20.00", "20.00", ["milk", "egg"], []),
        ("Cheese board", 1100, "20.00", "0.00", ["milk", "gluten", "celery"], []),
        ("Ice cream (3 scoops)", 600, "20.00", "20.00", ["milk"], ["Ice cream"]),
    ]),
    ("Hot & soft drinks", "bar", [
        ("Espresso", 280, "20.00", "20.00", [], []),
        ("Flat white", 360, "20.00", "20.00", ["milk"], ["Milk"]),
        ("Cappuccino", 360, "20.00", "20.00", ["milk"], ["Milk"]),
        ("Pot of tea", 320, "20.00", "20.00", [], ["Milk"]),
        ("Coca-Cola", 350, "20.00", "20.00", [], []),
        ("Fresh orange juice", 400, "20.00", "20.00", [], []),
        ("Sparkling water 750ml", 450, "20.00", "20.00", [], []),
    ]),
    ("Beer, wine & spirits", "bar", [
        ("Pint of lager", 620, "20.00", "20.00", ["gluten"], []),
        ("Pint of IPA", 650, "20.00", "20.00", ["gluten"], []),
        ("Pint of cider", 600, "20.00", "20.00", ["sulphites"], []),
        ("House red", 750, "20.00", "20.00", ["sulphites"], ["Size"]),
        ("House white", 750, "20.00", "20.00", ["sulphites"], ["Size"]),
        ("Prosecco", 850, "20.00", "20.00", ["sulphites"], ["Size"]),
        ("Gin", 650, "20.00", "20.00", [], ["Mixer"]),
    ]),
]

# area -> table names (seats)
FLOOR: list[tuple[str, list[tuple[str, int]]]] = [
    ("Main room", [(str(n), 4 if n % 3 else 6) for n in range(1, 11)]),
    ("Terrace", [(f"T{n}", 2) for n in range(1, 5)]),
    ("Bar", [(f"B{n}", 2) for n in range(1, 5)]),
]


# EAN-13 codes on what comes in bottles and cans, so the bar's scanner can ring them up.
BARCODES = {"Coca-Cola": "5000112637922", "Sparkling water 750ml": "5010521003207", "Prosecco": "8001841000042"}


def seed_id(venue_id: str, *parts: str) -> str:
    """Stable ids per venue, so a seed can be re-run (and tests can find things by name)."""
    return str(uuid.uuid5(uuid.UUID(venue_id), "/".join(parts)))


def seed_menu(conn: Any, venue_id: str) -> None:
    """Write the menu above into a venue (inside the caller's transaction)."""
    for name, (lo, hi, options) in MODIFIER_GROUPS.items():
        gid = seed_id(venue_id, "group", name)
        conn.execute("INSERT INTO modifier_groups (id, venue_id, name, min_choices, max_choices)"
                     " VALUES (%s, %s, %s, %s, %s)", (gid, venue_id, name, lo, hi))
        for pos, (option, delta) in enumerate(options):
            conn.execute("INSERT INTO modifier_options (id, group_id, name, price_delta, position)"
                         " VALUES (%s, %s, %s, %s, %s)", (seed_id(venue_id, "option", name, option), gid, option, delta, pos))
    for cpos, (category, station, items) in enumerate(CATEGORIES):
        cid = seed_id(venue_id, "category", category)
        conn.execute("INSERT INTO menu_categories (id, venue_id, name, station, position)"
                     " VALUES (%s, %s, %s, %s, %s)", (cid, venue_id, category, station, cpos))
        for ipos, (item, price, vat_in, vat_out, allergens, item_groups) in enumerate(items):
            iid = seed_id(venue_id, "item", item)
            conn.execute(
                "INSERT INTO menu_items (id, venue_id, category_id, name, price, vat_eat_in, vat_takeaway,"
                " sku, barcode, allergens, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (iid, venue_id, cid, item, price, vat_in, vat_out, f"SKU{cpos}{ipos:02d}", BARCODES.get(item),
                 allergens, ipos),
            )
            for gpos, group in enumerate(item_groups):
                conn.execute("INSERT INTO menu_item_modifier_groups (item_id, group_id, position)"
                             " VALUES (%s, %s, %s)", (iid, seed_id(venue_id, "group", group), gpos))


def seed_floor(conn: Any, venue_id: str) -> None:
    for apos, (area, tables) in enumerate(FLOOR):
        aid = seed_id(venue_id, "area", area)
        conn.execute("INSERT INTO floor_areas (id, venue_id, name, position) VALUES (%s, %s, %s, %s)",
                     (aid, venue_id, area, apos))
        for tpos, (table, seats) in enumerate(tables):
            conn.execute("INSERT INTO floor_tables (id, venue_id, area_id, name, seats, position)"
                         " VALUES (%s, %s, %s, %s, %s, %s)", (seed_id(venue_id, "table", table), venue_id, aid,
                                                             table, seats, tpos))
