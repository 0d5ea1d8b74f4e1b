"""Bios and goals in varied natural sentences, built from the vocabulary's phrasings.

Each sub-specialty is named by one of its phrasings picked at random, so two texts about
the same niche often share no words; templates vary the rest of the sentence.
"""

from __future__ import annotations

import re

import numpy as np

from synthetic.vocabulary import DOMAINS, SUBSPECIALTY_DOMAIN

__all__ = ["DOMAINS", "LEVEL_PHRASES", "SUBSPECIALTY_DOMAIN", "mentee_goals", "mentor_bio", "pick_phrase"]

LEVEL_PHRASES: dict[str, tuple[str, ...]] = {
    "student": ("a student", "a final-year student", "a graduate student", "a bootcamp student"),
    "junior": ("a junior {title}", "an entry-level {title}", "a {title} in my first job"),
    "mid": ("a {title} with a few years behind me", "a mid-level {title}", "an experienced {title}"),
    "senior": ("a senior {title}", "a seasoned {title}", "a {title} with close to a decade of experience"),
    "lead": ("a lead {title}", "a principal {title}", "a {title} who now leads a group"),
}

_MENTOR_INTROS = (
    "I'm a {title} with {years} years of experience, mostly in {industry}.",
    "{Years} years into my career, I work as a {title} in {industry}.",
    "Hi! I've spent the last {years} years in {industry}, these days as a {title}.",
    "{Title} in {industry}, {years} years and counting.",
    "After {years} years in {industry}, I now work as a {title}.",
    "I have been a {title} for a while now: {years} years, most of them in {industry}.",
)
_MENTOR_FOCUS_MAIN = (
    "Most of my recent work is about {p}.",
    "My main focus is {p}.",
    "I have spent years on {p}.",
    "Lately I've been deep into {p}.",
    "A lot of people come to me for {p}.",
    "I know {p} inside out.",
    "What I enjoy most is {p}.",
)
_MENTOR_FOCUS_MORE = (
    "I also care a lot about {p}.",
    "On the side I do a fair amount of {p}.",
    "Happy to talk about {p} too.",
    "I've also picked up solid experience in {p}.",
    "Another topic close to my heart: {p}.",
)
_MENTOR_SKILLS = (
    "Day to day I work with {skills}.",
    "My toolbox: {skills}.",
    "Tools I use most are {skills}.",
)
_MENTOR_STYLE: dict[str, tuple[str, ...]] = {
    "hands-on": ("I like to pair on real problems and review your work line by line.",
                 "Expect practical exercises and code or design reviews."),
    "structured": ("I run mentorship with clear goals, a plan and regular check-ins.",
                   "We will set milestones together and track them every session."),
    "advisory": ("I'm best as a sounding board for your career decisions.",
                 "I share what I've seen work and let you decide."),
    "socratic": ("I mostly ask questions and help you find your own answers.",
                 "Expect me to challenge your thinking rather than hand out recipes."),
}
_MENTOR_CLOSINGS = (
    "", "", "Looking forward to meeting you.", "I mentor because someone once did it for me.",
    "Let's talk!", "Outside work I run, cook and read too much.",
)

_MENTEE_INTROS = (
    "I'm {level} in {industry}.",
    "Currently {level}, working in {industry}.",
    "About me: {level} in the {industry} space.",
    "I am {level} and my background is in {industry}.",
)
_MENTEE_WANTS = (
    "I want to get better at {p}.",
    "My goal for this year is to learn {p}.",
    "I'm looking for someone who can guide me on {p}.",
    "I'd love help with {p}.",
    "I'm trying to move into {p} and need advice.",
    "Right now I'm struggling with {p}.",
    "I'm curious about {p} and don't know where to start.",
    "I'd like a mentor who has done {p} for real.",
)
_MENTEE_SECOND_DOMAIN = (
    "I'd also like to broaden my view of {domain}.",
    "Some exposure to {domain} would help as well.",
    "Longer term I'm interested in {domain} too.",
)
_MENTEE_STYLE: dict[str, tuple[str, ...]] = {
    "hands-on": ("I learn best by doing, with someone who looks closely at my work.",
                 "Practical exercises and reviews work best for me."),
    "structured": ("I like clear plans and regular check-ins.",
                   "A mentor with a clear structure and milestones would suit me."),
    "advisory": ("Mostly I need a sounding board for decisions.",
                 "I'm looking for perspective more than lessons."),
    "socratic": ("I like being challenged with good questions.",
                 "Push me to think things through myself."),
}
_MENTEE_CLOSINGS = ("", "", "Thanks for reading!", "I can commit a few hours every week.",
                    "Happy to meet online.")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def pick_phrase(rng: np.random.Generator, subspecialty: str) -> str:
    """One of the phrasings of a sub-specialty, chosen at random."""
    return _pick(rng, DOMAINS[SUBSPECIALTY_DOMAIN[subspecialty]].subspecialties[subspecialty])


_ARTICLE = re.compile(r"(?<!\S)([Aa]) (?=[aeiouAEIOU])")


def _text(sentences: list[str]) -> str:
    """Join sentences, fixing "a" before a vowel that a template put in front of a title."""
    return _ARTICLE.sub(r"\1n ", " ".join(s for s in sentences if s))


def _join_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def mentor_bio(
    rng: np.random.Generator,
    *,
    title: str,
    years: int,
    industry: str,
    subspecialties: list[str],
    skills: list[str],
    style: str,
) -> str:
    """A mentor bio: intro, one sentence per sub-specialty, maybe skills, style, closing."""
    intro = _pick(rng, _MENTOR_INTROS)
    sentences = [
        intro.format(title=title, Title=title[0].upper() + title[1:], years=years,
                     Years=str(years), industry=industry)
    ]
    sentences.append(_pick(rng, _MENTOR_FOCUS_MAIN).format(p=pick_phrase(rng, subspecialties[0])))
    for sub in subspecialties[1:]:
        sentences.append(_pick(rng, _MENTOR_FOCUS_MORE).format(p=pick_phrase(rng, sub)))
    if rng.random() < 0.5 and skills:
        shown = [skills[i] for i in rng.permutation(len(skills))[:3]]
        sentences.append(_pick(rng, _MENTOR_SKILLS).format(skills=_join_list(shown)))
    sentences.append(_pick(rng, _MENTOR_STYLE[style]))
    sentences.append(_pick(rng, _MENTOR_CLOSINGS))
    return _text(sentences)


def mentee_goals(
    rng: np.random.Generator,
    *,
    level: str,
    title: str,
    industry: str,
    subspecialty: str,
    other_domains: list[str],
    style: str,
) -> str:
    """Mentee goals: who they are, the wanted sub-specialty, maybe a second domain, style."""
    level_text = _pick(rng, LEVEL_PHRASES[level]).format(title=title)
    sentences = [
        _pick(rng, _MENTEE_INTROS).format(level=level_text, industry=industry),
        _pick(rng, _MENTEE_WANTS).format(p=pick_phrase(rng, subspecialty)),
    ]
    for domain in other_domains:
        sentences.append(_pick(rng, _MENTEE_SECOND_DOMAIN).format(domain=domain))
    if rng.random() < 0.7:
        sentences.append(_pick(rng, _MENTEE_STYLE[style]))
    sentences.append(_pick(rng, _MENTEE_CLOSINGS))
    return _text(sentences)
