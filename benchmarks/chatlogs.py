"""A second corpus of another shape: short dated chat logs, with questions that have short answers.

**Synthetic**: every conversation and question here is written by this script (fixed seed, no
third-party text; released with docqa under its licence). It imitates the folder of issue #24: one
file per conversation, a ``Time: YYYYMMDD_HH:MM`` line, then ``FirstnameLastname: message`` lines
(the speaker's name written joined, as chat exports do), 5 to 40 lines. A group of friends meets
again and again for the same kinds of things (jam sessions, match nights, game nights, hikes…), so
a question must name the day or the person to reach the one chat that answers it.

Questions (``chatlog_questions.jsonl``, rewritten by ``--write``), answers a name, a date, a time
or a short phrase, each with its source file:

- ``proposal``: what one person proposed, in a chat where another person proposes something else;
- ``who``: who proposed a thing;
- ``place`` / ``time``: where or at what time a gathering named by its date will be;
- ``detail``: a fact said once in a long chat (a goal scorer, a book's author, a dish);
- ``date``: on which day a chat about a thing took place;
- a share of the questions carry one misspelled word (``typo`` true), as users type them;
- ``unanswerable``: questions about these people that no chat answers (docqa should abstain).

Split: ``tune`` or ``test`` by a hash of the id, alternating within each kind of question.

Run: ``python benchmarks/chatlogs.py DEST`` writes the chats into ``DEST`` (``--write`` also
rewrites the question file, which is committed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "chatlog_questions.jsonl"
SEED = 24
N_CHATS = 300

PEOPLE = [
    ("Wolfgang", "Schulz"), ("Anna", "Kowalski"), ("Boris", "Petrov"), ("Chloe", "Martin"),
    ("Daniel", "Okafor"), ("Elena", "Rossi"), ("Farid", "Haddad"), ("Grace", "Liu"),
    ("Hannah", "Berg"), ("Ivan", "Novak"), ("Julia", "Fischer"), ("Kenji", "Tanaka"),
    ("Lena", "Hoffmann"), ("Marco", "Bianchi"), ("Nadia", "Rahman"), ("Oscar", "Lindqvist"),
    ("Priya", "Sharma"), ("Quentin", "Dubois"), ("Rosa", "Delgado"), ("Samuel", "Adeyemi"),
    ("Tara", "Walsh"), ("Umar", "Siddiqui"), ("Vera", "Horvath"), ("William", "Brooks"),
    ("Xenia", "Volkova"), ("Yusuf", "Demir"), ("Zoe", "Clarke"), ("Mia", "Jansen"),
    ("Lucas", "Moreau"), ("Sofia", "Costa"), ("Noah", "Schmidt"), ("Emma", "Nowak"),
]  # fmt: skip


@dataclass
class Topic:
    """A kind of gathering the friends talk about, with what can be said in its chats."""

    name: str  # how a question names it
    opener: list[str]
    proposals: list[str]  # "Let's {p}" / "How about {p}?"
    places: list[str]
    # (line with {x}, question, the values {x} takes): a fact said once in a long chat
    details: list[tuple[str, str, list[str]]] = field(default_factory=list)


TOPICS = [
    Topic(
        "jam session",
        ["Anyone up for a jam session this weekend?", "My amp is finally fixed, jam time?",
         "We haven't played together in ages. Jam?"],
        ["some epic games first and then play", "a potluck before we start playing",
         "recording the whole session", "learning a new cover song", "playing only blues tonight",
         "inviting a drummer from work", "an acoustic set outside"],
        ["the rehearsal room on Bergstrasse", "Boris's garage", "the community center basement",
         "the music school's room 4"],
        [("I finally bought the {x} I told you about.",
          "Which guitar did {speaker} buy before the jam session on {date}?",
          ["red Fender Telecaster", "sunburst Gibson Les Paul", "blue Squier Stratocaster",
           "black Ibanez RG"]),
         ("Bring the song list, we start with {x}.",
          "Which song did the jam session on {date} start with?",
          ["Wonderwall", "Seven Nation Army", "Smoke on the Water", "Hotel California",
           "Sweet Child o' Mine"])],
    ),
    Topic(
        "match night",
        ["Who is watching the game tonight?", "Big match tonight, my place?",
         "Are we watching the derby together?"],
        ["ordering pizza for everyone", "watching at the sports bar", "a betting pool on the score",
         "grilling before kickoff", "wearing the team shirts"],
        ["Daniel's flat", "the Red Lion pub", "the sports bar on Main Street"],
        [("What a match! {x}'s goal was a stunner too!",
          "Whose goal did {speaker} call a stunner while watching the match on {date}?",
          ["Phil Foden", "Bukayo Saka", "Jamal Musiala", "Florian Wirtz", "Lamine Yamal"]),
         ("The referee gave a penalty in the {x} minute, unbelievable.",
          "In which minute was the penalty given in the match watched on {date}?",
          ["89th", "12th", "67th", "45th", "78th"])],
    ),
    Topic(
        "board game night",
        ["Game night this Friday?", "I got a new board game, who wants to try it?",
         "Board games at mine again?"],
        ["playing Catan", "a Ticket to Ride tournament", "trying Gloomhaven",
         "some epic games like Twilight Imperium", "a quick round of Codenames"],
        ["Elena's place", "the board game cafe downtown", "Grace's kitchen"],
        [("Last time {x} won Catan with the longest road, I want revenge.",
          "Who won Catan last time, according to {speaker} on {date}?",
          ["Noah", "Vera", "Umar", "Chloe", "Lucas"]),
         ("I'll bring my grandmother's {x}.",
          "What did {speaker} bring to the game night on {date}?",
          ["lemon cake", "apple strudel", "cheese scones", "walnut cookies"])],
    ),
    Topic(
        "hiking trip",
        ["Weather looks great, hike on Sunday?", "Anyone want to go hiking?",
         "I need some fresh air. Trail this weekend?"],
        ["the ridge trail to the old lighthouse", "camping overnight at the lake",
         "an easy loop around the reservoir", "target practice at the archery range on the way",
         "taking the dogs along"],
        ["the north parking lot", "the train station", "the visitor center"],
        [("Last time we saw a {x} near the second bridge.",
          "What bird did {speaker} see near the second bridge, mentioned on {date}?",
          ["black stork", "grey heron", "kingfisher", "red kite", "golden eagle"]),
         ("The trail is {x} with 600 meters of climbing.",
          "How long is the trail discussed on {date}?",
          ["14 kilometers", "9 kilometers", "21 kilometers", "17 kilometers"])],
    ),
    Topic(
        "movie night",
        ["Movie night?", "Something good came out on streaming, watch together?",
         "Cinema or couch this week?"],
        ["watching Dune Part Two", "a Studio Ghibli marathon", "a horror double feature",
         "watching the old Star Wars trilogy", "going to the open-air cinema"],
        ["Sofia's living room", "the Odeon cinema", "the open-air cinema in the park"],
        [("Fun fact, the director of {x}.",
          "Which director did {speaker} mention in the movie chat of {date}?",
          ["Arrival is Denis Villeneuve", "Parasite is Bong Joon-ho",
           "Spirited Away is Hayao Miyazaki", "Amelie is Jean-Pierre Jeunet"]),
         ("I'm watching {x} right now and I already have chills.",
          "What was {speaker} watching while chatting on {date}?",
          ["the trailer", "the making-of documentary", "the first episode"])],
    ),
    Topic(
        "birthday party",
        ["It's Tara's birthday next week, ideas?", "Surprise party planning, keep it secret!",
         "We need to plan the birthday thing."],
        ["a surprise dinner at the Thai place", "renting a karaoke room", "a potluck in the park",
         "a cake shaped like a guitar", "a escape room challenge"],
        ["the Thai place on Elm Street", "the karaoke bar Echo", "Riverside Park"],
        [("I ordered the cake from {x}, chocolate and raspberry.",
          "Which bakery made the cake ordered on {date}?",
          ["Bakery Sonnenschein", "Maison Durand", "the Crumb Club", "Pasticceria Rosa"]),
         ("The gift is a pottery class voucher, everyone chips in {x}.",
          "How much did each person chip in for the gift discussed on {date}?",
          ["15 euros", "20 euros", "12 euros", "25 euros"])],
    ),
    Topic(
        "study group",
        ["Exam in two weeks, study group?", "Anyone else stuck on the statistics assignment?",
         "Library session tomorrow?"],
        ["going through last year's exam", "splitting the chapters between us",
         "asking the tutor for extra office hours", "flashcards with Anki", "a mock oral exam"],
        ["the library's third floor", "room B204", "the cafe next to campus"],
        [("The exam covers {x}, nothing else.",
          "Which chapters does the exam cover, according to the chat of {date}?",
          ["chapters 3 to 7", "chapters 1 to 5", "chapters 6 to 9"]),
         ("{x} said the formula sheet is allowed.",
          "Which professor allowed the formula sheet, per the chat of {date}?",
          ["Professor Whitaker", "Professor Lindgren", "Professor Okoye", "Professor Baptiste"])],
    ),
    Topic(
        "moving day",
        ["I'm moving on Saturday, can anyone help?", "Boxes everywhere. Helpers needed!",
         "The new flat keys are mine! Moving soon."],
        ["renting a van from Sixt", "starting at 7 in the morning", "a pizza party after",
         "taking the furniture apart the night before", "asking Ivan for his trailer"],
        ["the old flat on Lindenweg", "the new flat on Kastanienallee", "the storage unit"],
        [("The piano is the hardest part, it weighs about {x}.",
          "How much does the piano weigh, per the moving chat of {date}?",
          ["250 kilos", "180 kilos", "300 kilos"]),
         ("The new flat is on the {x} floor and has no elevator.",
          "On which floor is the new flat, according to the chat of {date}?",
          ["fourth", "fifth", "third", "sixth"])],
    ),
    Topic(
        "book club",
        ["Book club meeting soon, did everyone finish?", "What's our next book?",
         "I loved this month's book!"],
        ["reading The Left Hand of Darkness next", "inviting the author's translator",
         "meeting every three weeks instead", "a themed dinner matching the book",
         "switching to short stories for the summer"],
        ["the tea room on Quay Street", "Hannah's balcony", "the public library"],
        [("Did you know the author wrote it in {x}?",
          "In which year was the book discussed on {date} written?",
          ["1969", "1985", "1932", "2003"]),
         ("My favourite character is {x}, by far.",
          "Who is {speaker}'s favourite character, per the book club chat of {date}?",
          ["Genly Ai", "Estraven", "Offred", "Bernard Marx"])],
    ),
    Topic(
        "car trouble",
        ["My car won't start again.", "Does anyone know a good mechanic?",
         "The check engine light is on. Help?"],
        ["checking the battery first", "calling the roadside assistance",
         "taking it to Kemal's garage", "borrowing a jump starter", "selling the car for good"],
        ["Kemal's garage", "the supermarket parking lot", "the gas station on the ring road"],
        [("The mechanic said it was the {x}, 420 euros to replace.",
          "What part failed on the car discussed on {date}?",
          ["alternator", "starter motor", "fuel pump", "water pump"]),
         ("It's a {x}, so parts are cheap.",
          "What car does {speaker} drive, per the chat of {date}?",
          ["2009 Volkswagen Golf", "2012 Skoda Octavia", "2007 Toyota Corolla",
           "2011 Ford Focus"])],
    ),
]  # fmt: skip

FILLER = [
    "haha true", "sounds good to me", "I'm in!", "can't wait", "ok", "👍", "sure thing",
    "let me check my calendar", "I might be a bit late", "who's bringing snacks?", "lol",
    "same here", "perfect", "I'll be there", "depends on the weather", "yes please",
    "I have work until 5 but then I'm free", "we should do this more often", "agreed",
    "did anyone see my message from yesterday?", "my phone is dying, brb", "nice",
    "I'll ask my roommate too", "count me in", "not sure yet, will confirm tomorrow",
    "that was fun last time", "good idea", "hmm maybe", "I'll bring drinks", "great",
]  # fmt: skip

TYPOS = {
    "suggest": "sugest", "proposed": "proposd", "watching": "wathcing", "session": "sesion",
    "favourite": "favorite", "according": "acording", "discussed": "discused", "bring": "brign",
    "trail": "trial", "birthday": "brithday", "gathering": "gahtering", "which": "wich",
    "meeting": "meting", "where": "whre", "friends": "freinds",
}  # fmt: skip


def joined(person: tuple[str, str]) -> str:
    return f"{person[0]}{person[1]}"


def apart(person: tuple[str, str]) -> str:
    return f"{person[0]} {person[1]}"


def split(rows: list[dict[str, object]]) -> None:
    """``split`` set on every row: within each kind, rows in the order of a hash of their id
    go alternately to tune and test (so both splits get every kind)."""
    for kind in dict.fromkeys(r["kind"] for r in rows):
        same = [r for r in rows if r["kind"] == kind]
        same.sort(key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())
        for i, row in enumerate(same):
            row["split"] = "tune" if i % 2 == 0 else "test"


@dataclass
class Chat:
    """One conversation and the facts its questions are asked from."""

    name: str
    day: date
    hour: str
    topic: Topic
    people: list[tuple[str, str]]
    lines: list[str]
    proposals: list[tuple[tuple[str, str], str]]  # (who, what)
    place: str
    meet_time: str
    detail: tuple[tuple[str, str], str, str, str] | None  # (speaker, line, question, answer)

    @property
    def stamp(self) -> str:
        return self.day.strftime("%Y%m%d")

    def text(self) -> str:
        return f"Time: {self.stamp}_{self.hour}\n" + "\n".join(self.lines) + "\n"


def make_chat(rng: random.Random, i: int, day: date) -> Chat:
    topic = rng.choice(TOPICS)
    people = rng.sample(PEOPLE, rng.randint(2, 5))
    long_chat = rng.random() < 0.35
    n_filler = rng.randint(18, 36) if long_chat else rng.randint(2, 8)
    a, b = rng.sample(people, 2) if len(people) > 1 else (people[0], people[0])
    prop_a, prop_b = rng.sample(topic.proposals, 2)
    place = rng.choice(topic.places)
    meet_time = f"{rng.choice([10, 11, 14, 15, 16, 18, 19, 20])}:{rng.choice(['00', '30'])}"
    story: list[tuple[tuple[str, str], str]] = [
        (people[0], rng.choice(topic.opener)),
        (a, rng.choice(["What about {p}?", "Let's do {p}!", "I vote for {p}.",
                        "How about {p}?"]).format(p=prop_a)),
        (b, rng.choice(["Or {p}, just saying.", "I'd rather suggest {p}.",
                        "Alternatively {p}?", "What if we did {p} instead?"]).format(p=prop_b)),
        (rng.choice(people), f"Let's meet at {place} at {meet_time}."),
    ]  # fmt: skip
    detail = None
    if rng.random() < 0.6 and topic.details:
        speaker = rng.choice(people)
        line, question, values = rng.choice(topic.details)
        value = rng.choice(values)
        detail = (speaker, line.format(x=value), question, value)
    fillers = [(rng.choice(people), rng.choice(FILLER)) for _ in range(n_filler)]
    # the story's order kept; filler lines and the detail scattered between and after
    merged = list(story)
    for item in fillers:
        merged.insert(rng.randint(1, len(merged)), item)
    if detail is not None:
        merged.insert(rng.randint(len(merged) // 2, len(merged)), (detail[0], detail[1]))
    lines = [f"{joined(who)}: {msg}" for who, msg in merged]
    hour = f"{rng.randint(8, 22):02d}:{rng.choice(['00', '15', '30', '45'])}"
    name = f"chat_{i:03d}.txt"  # the day is in the file's first line only
    return Chat(name, day, hour, topic, people, lines, [(a, prop_a), (b, prop_b)], place,
                meet_time, detail)  # fmt: skip


def make_chats() -> list[Chat]:
    rng = random.Random(SEED)
    start = date(2025, 9, 1)
    days = sorted(rng.sample(range(330), N_CHATS))  # at most one chat a day
    return [make_chat(rng, i, start + timedelta(days=d)) for i, d in enumerate(days)]


def misspell(rng: random.Random, question: str) -> str | None:
    words = [w for w in TYPOS if f" {w} " in f" {question} "]
    if not words:
        return None
    w = rng.choice(words)
    return f" {question} ".replace(f" {w} ", f" {TYPOS[w]} ", 1).strip()


def questions(chats: list[Chat]) -> list[dict[str, object]]:
    rng = random.Random(SEED + 1)
    out: list[dict[str, object]] = []
    asked = rng.sample(chats, 80)
    for n, chat in enumerate(asked):
        (a, prop_a), (b, prop_b) = chat.proposals
        t = chat.topic.name
        by_day = f"the {t} chat of {chat.stamp}"
        kinds = ["proposal", "who", "place", "time"]
        if chat.detail is not None:
            kinds += ["detail", "detail", "detail"]
        if a != b:
            kinds += ["proposal"]
        kind = rng.choice(kinds)
        if kind == "proposal" and a != b:
            q = rng.choice([f"What did {apart(a)} suggest in {by_day}?",
                            f"What did {apart(a)} propose for the {t} in the chat of "
                            f"{chat.stamp}?"])  # fmt: skip
            answer = prop_a
        elif kind in ("proposal", "who"):
            kind = "who"
            q = f"Who proposed {prop_b} in {by_day}?"
            answer = apart(b)
        elif kind == "place":
            q = rng.choice(
                [
                    f"Where did the friends agree to meet in {by_day}?",
                    f"Where was the {t} planned on {chat.stamp} going to be?",
                ]
            )
            answer = chat.place
        elif kind == "time":
            q = f"At what time did the friends agree to meet for the {t} planned on {chat.stamp}?"
            answer = chat.meet_time
        else:
            assert chat.detail is not None
            speaker, _, template, answer = chat.detail
            q = template.format(speaker=apart(speaker), date=chat.stamp)
        typo = False
        if rng.random() < 0.2 and (bad := misspell(rng, q)):
            q, typo = bad, True
        qid = f"chat-{n:02d}-{kind}"
        out.append({"id": qid, "question": q, "answer": answer, "sources": [chat.name],
                    "lang": "en", "kind": kind, "typo": typo})  # fmt: skip
    # a chat about a thing asked by its content, the answer its date
    said = [(c.detail[0], c.detail[1]) for c in chats if c.detail is not None]
    once = [
        c for c in chats if c.detail is not None and said.count((c.detail[0], c.detail[1])) == 1
    ]
    for n, chat in enumerate(rng.sample(once, 10)):
        assert chat.detail is not None
        speaker, line, _, _ = chat.detail
        qid = f"chat-date-{n:02d}"
        out.append({"id": qid, "question": f"On which day did {apart(speaker)} write \"{line}\"?",
                    "answer": chat.stamp, "sources": [chat.name], "lang": "en",
                    "kind": "date", "typo": False})  # fmt: skip
    unanswerable = [
        "What is the name of Wolfgang Schulz's dentist?",
        "Which airline did Anna Kowalski fly with to Lisbon?",
        "How much rent does Boris Petrov pay for his flat?",
        "What is Grace Liu's favourite programming language?",
        "Which university did Kenji Tanaka graduate from?",
        "What did Priya Sharma cook for Christmas dinner?",
        "How many cats does Oscar Lindqvist have?",
        "What is the capital of Peru?",
        "When does the city marathon take place?",
        "Which hotel did the friends book in Vienna?",
    ]
    for n, q in enumerate(unanswerable):
        qid = f"chat-none-{n:02d}"
        out.append({"id": qid, "question": q, "answerable": False, "lang": "en",
                    "kind": "unanswerable", "typo": False})  # fmt: skip
    split(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder to write the chats into")
    parser.add_argument("--write", action="store_true", help=f"also rewrite {QUESTIONS.name}")
    args = parser.parse_args()
    chats = make_chats()
    args.dest.mkdir(parents=True, exist_ok=True)
    for chat in chats:
        (args.dest / chat.name).write_text(chat.text(), encoding="utf-8")
    rows = questions(chats)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if args.write:
        QUESTIONS.write_text(text, encoding="utf-8")
    elif QUESTIONS.is_file() and QUESTIONS.read_text(encoding="utf-8") != text:
        raise SystemExit(f"{QUESTIONS.name} differs from what the script makes: --write it")
    size = sum(len(c.text().encode()) for c in chats)
    print(f"{len(chats)} chats ({size / 1024:.0f} KiB) in {args.dest}, {len(rows)} questions")


if __name__ == "__main__":
    main()
