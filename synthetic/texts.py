"""Vocabulary and sentence templates of the synthetic world.

Twelve domains, each with job titles, skills and three or four sub-specialties. Every
sub-specialty has several phrasings chosen to share few words ("computer vision" /
"teaching machines to understand photos and video"), so word overlap alone misses
matches that a sentence encoder catches. Structured fields only ever name the domain;
the sub-specialties appear only in the texts built here. Skills and job titles are kept
neutral within a domain (no "Flutter" skill, no "iOS engineer" title), so that neither
the structured fields nor the title in a bio hint at a niche.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Domain:
    """One field of expertise: how people in it are titled, their skills, their niches."""

    titles: tuple[str, ...]
    skills: tuple[str, ...]
    subspecialties: dict[str, tuple[str, ...]]


DOMAINS: dict[str, Domain] = {
    "machine learning": Domain(
        titles=("machine learning engineer", "data scientist", "applied scientist"),
        skills=("python", "pytorch", "tensorflow", "scikit-learn", "statistics",
                "feature engineering", "model evaluation", "linear algebra", "jupyter", "sql"),
        subspecialties={
            "computer vision": (
                "computer vision", "image recognition", "object detection in camera footage",
                "teaching machines to understand photos and video",
                "convolutional networks for visual inspection"),
            "natural language processing": (
                "natural language processing", "large language models",
                "text classification and sentiment analysis",
                "chatbots and conversational assistants",
                "making software understand written language"),
            "mlops": (
                "MLOps", "deploying models to production", "model serving and monitoring",
                "keeping trained models reliable after launch", "automated retraining"),
            "recommender systems": (
                "recommender systems", "personalized recommendations", "collaborative filtering",
                "ranking content for each user", "suggesting the right product to every shopper"),
        },
    ),
    "data engineering": Domain(
        titles=("data engineer", "analytics engineer", "data platform engineer"),
        skills=("sql", "python", "dbt", "data modeling", "snowflake", "bigquery", "etl",
                "scala", "postgresql", "git"),
        subspecialties={
            "stream processing": (
                "real-time streaming", "event pipelines on Kafka",
                "processing events the moment they arrive", "low-latency stream processing",
                "change data capture"),
            "data warehousing": (
                "data warehousing", "dimensional modeling for analytics", "building a lakehouse",
                "designing star schemas", "a single source of truth for reporting"),
            "batch orchestration": (
                "batch ETL", "orchestrating nightly jobs with Airflow",
                "moving data between systems reliably", "scheduled ingestion workflows",
                "large-scale Spark jobs"),
            "data quality": (
                "data quality", "data governance and lineage",
                "catching broken data before the dashboards do", "validation tests for datasets",
                "trustworthy metadata catalogs"),
        },
    ),
    "backend": Domain(
        titles=("backend engineer", "software engineer", "platform engineer"),
        skills=("java", "go", "python", "sql", "redis", "docker", "node.js", "c#",
                "unit testing", "linux"),
        subspecialties={
            "api design": (
                "API design", "clean REST interfaces", "contracts between services",
                "designing endpoints other teams love to use", "GraphQL schemas"),
            "distributed systems": (
                "distributed systems", "consensus and replication",
                "systems that survive machine failures",
                "scaling services to millions of requests", "eventual consistency trade-offs"),
            "database performance": (
                "database performance", "query optimization", "making slow SQL fast",
                "indexing strategies", "tuning Postgres under heavy load"),
        },
    ),
    "frontend": Domain(
        titles=("frontend engineer", "web developer", "UI engineer"),
        skills=("javascript", "typescript", "react", "css", "html", "vue", "webpack",
                "redux", "next.js", "jest"),
        subspecialties={
            "frontend architecture": (
                "frontend architecture", "state management on the client",
                "structuring large single-page apps", "reusable UI building blocks",
                "component-driven development"),
            "web performance": (
                "web performance", "faster page loads", "core web vitals",
                "shrinking JavaScript bundles", "rendering speed in the browser"),
            "accessibility": (
                "accessibility", "inclusive interfaces for screen reader users",
                "WCAG compliance", "keyboard navigation and color contrast",
                "websites that everyone can use"),
        },
    ),
    "mobile": Domain(
        titles=("mobile developer", "mobile engineer", "app developer"),
        skills=("mobile ui", "app architecture", "mobile testing", "firebase",
                "push notifications", "offline sync", "app analytics", "rest apis", "git",
                "app release management"),
        subspecialties={
            "ios": (
                "native iOS development", "SwiftUI apps", "building for iPhone and iPad",
                "Apple platform engineering", "shipping apps on the App Store"),
            "android": (
                "native Android development", "Jetpack Compose", "Kotlin apps for phones",
                "the Google Play ecosystem", "Android performance on low-end devices"),
            "cross-platform": (
                "cross-platform mobile apps", "Flutter", "React Native",
                "one codebase for both phone platforms", "hybrid app frameworks"),
        },
    ),
    "devops": Domain(
        titles=("DevOps engineer", "infrastructure engineer", "cloud engineer"),
        skills=("docker", "aws", "linux", "bash", "ansible", "gcp", "azure", "networking",
                "python", "git"),
        subspecialties={
            "kubernetes": (
                "Kubernetes", "container orchestration", "running workloads on clusters",
                "Helm charts and operators", "platform engineering for containers"),
            "continuous delivery": (
                "continuous delivery", "CI/CD pipelines", "automating builds and releases",
                "shipping code ten times a day safely", "release engineering"),
            "observability": (
                "site reliability", "observability", "alerting that wakes people only when it matters",
                "SLOs and error budgets", "tracing and metrics dashboards"),
            "infrastructure as code": (
                "infrastructure as code", "Terraform modules",
                "provisioning cloud resources from config files", "reproducible environments",
                "declarative cloud setup"),
        },
    ),
    "security": Domain(
        titles=("security engineer", "security analyst", "security architect"),
        skills=("threat modeling", "network security", "python", "cryptography", "compliance",
                "linux", "risk assessment", "security awareness", "scripting", "networking"),
        subspecialties={
            "application security": (
                "application security", "secure code review",
                "finding vulnerabilities before attackers do", "ethical hacking",
                "bug bounty hunting"),
            "incident response": (
                "incident response", "digital forensics", "threat hunting",
                "handling a breach", "security operations center work"),
            "cloud security": (
                "cloud security", "identity and access management", "zero trust architecture",
                "locking down AWS accounts", "least-privilege permissions"),
        },
    ),
    "product": Domain(
        titles=("product manager", "product owner", "group product manager"),
        skills=("user stories", "jira", "stakeholder management", "sql", "okrs", "analytics",
                "presentation skills", "agile", "writing specs", "metrics"),
        subspecialties={
            "product discovery": (
                "product discovery", "customer interviews", "figuring out what users actually need",
                "validating ideas before building them", "jobs to be done"),
            "growth": (
                "growth", "experimentation and A/B tests", "activation and retention funnels",
                "product-led growth", "moving the north star metric"),
            "product strategy": (
                "product strategy", "roadmap planning", "saying no to features",
                "aligning stakeholders on priorities", "long-term product vision"),
            "moving into product": (
                "moving from engineering into product management", "landing a first PM role",
                "switching careers to become a product manager",
                "preparing for product manager interviews"),
        },
    ),
    "design": Domain(
        titles=("product designer", "UX designer", "UI designer"),
        skills=("figma", "sketch", "wireframing", "adobe xd", "information architecture",
                "design critique", "illustration", "presentation skills", "html/css",
                "storytelling"),
        subspecialties={
            "ux research": (
                "UX research", "usability studies", "watching real people use a product",
                "interviewing users to uncover pain points", "research synthesis"),
            "visual design": (
                "visual design", "beautiful interfaces", "typography and color",
                "polished UI craft", "brand identity"),
            "design systems": (
                "design systems", "shared component libraries for designers",
                "consistent patterns across products", "design tokens",
                "scaling design across many teams"),
            "interaction design": (
                "interaction design", "micro-interactions and motion", "prototyping flows",
                "how screens connect to each other", "delightful animations"),
        },
    ),
    "leadership": Domain(
        titles=("engineering manager", "director of engineering", "head of engineering"),
        skills=("people management", "communication", "conflict resolution", "delegation",
                "one-on-ones", "strategic planning", "budgeting", "stakeholder management",
                "decision making", "agile"),
        subspecialties={
            "first-time management": (
                "becoming a first-time manager",
                "the transition from individual contributor to manager",
                "leading my first team", "moving from engineer to team lead",
                "new manager basics"),
            "hiring and team building": (
                "hiring great people", "building a team from scratch",
                "running structured interviews", "recruiting engineers",
                "growing a team from three to thirty"),
            "organizational leadership": (
                "leading managers", "director-level leadership", "organizational design",
                "running a department", "executive presence"),
            "coaching and feedback": (
                "giving difficult feedback", "coaching underperformers", "career conversations",
                "performance management", "helping people grow"),
        },
    ),
    "entrepreneurship": Domain(
        titles=("founder", "startup CEO", "co-founder"),
        skills=("business models", "marketing", "financial planning", "networking",
                "lean startup", "negotiation", "operations", "legal basics", "public speaking",
                "budgeting"),
        subspecialties={
            "fundraising": (
                "raising venture capital", "fundraising", "pitching to investors",
                "seed rounds and term sheets", "angel investment"),
            "product-market fit": (
                "finding product-market fit", "early customer validation",
                "turning an idea into something people pay for", "the first hundred customers",
                "knowing when to pivot"),
            "go-to-market": (
                "go-to-market strategy", "founder-led sales", "landing the first enterprise deals",
                "pricing and positioning", "scaling revenue"),
            "bootstrapping": (
                "bootstrapping a small business", "growing without outside funding",
                "running a profitable solo company", "side projects that become businesses"),
        },
    ),
    "finance": Domain(
        titles=("financial analyst", "quant developer", "finance manager"),
        skills=("excel", "accounting", "python", "bloomberg", "statistics", "sql", "reporting",
                "regulation", "economics", "vba"),
        subspecialties={
            "quantitative trading": (
                "quantitative trading", "algorithmic strategies", "systematic investing with code",
                "backtesting signals", "market microstructure"),
            "corporate finance": (
                "corporate finance", "building three-statement models", "company valuation",
                "mergers and acquisitions", "FP&A and budgeting"),
            "fintech": (
                "fintech", "payment systems", "digital banking products", "moving money online",
                "card processing and settlement"),
            "risk management": (
                "risk management", "credit risk models", "regulatory capital",
                "stress testing portfolios", "fraud detection"),
        },
    ),
}

DOMAIN_NAMES: tuple[str, ...] = tuple(DOMAINS)
SUBSPECIALTY_DOMAIN: dict[str, str] = {
    sub: name for name, domain in DOMAINS.items() for sub in domain.subspecialties
}
"""Which domain each sub-specialty belongs to."""

RELATED_DOMAINS: dict[str, tuple[str, ...]] = {
    "machine learning": ("data engineering", "backend", "finance"),
    "data engineering": ("machine learning", "backend", "devops"),
    "backend": ("devops", "data engineering", "frontend", "security"),
    "frontend": ("design", "mobile", "backend"),
    "mobile": ("frontend", "design", "backend"),
    "devops": ("backend", "security", "data engineering"),
    "security": ("devops", "backend", "finance"),
    "product": ("design", "leadership", "entrepreneurship"),
    "design": ("product", "frontend", "mobile"),
    "leadership": ("product", "entrepreneurship", "backend"),
    "entrepreneurship": ("product", "finance", "leadership"),
    "finance": ("entrepreneurship", "machine learning", "product"),
}
"""Domains people commonly combine; second and third domains are drawn mostly from here."""

INDUSTRIES: tuple[str, ...] = (
    "software", "finance", "healthcare", "e-commerce", "education", "gaming", "media",
    "telecom", "consulting", "public sector", "automotive", "energy",
)

FIRST_NAMES: tuple[str, ...] = (
    "Aisha", "Alex", "Amara", "Ana", "Arjun", "Ben", "Carla", "Chen", "Daniel", "Diego",
    "Elena", "Emeka", "Fatima", "Felix", "Grace", "Hana", "Hiro", "Ines", "Ivan", "Jamal",
    "Julia", "Kai", "Karin", "Leila", "Liam", "Lucia", "Maya", "Mehmet", "Mia", "Nadia",
    "Noah", "Olga", "Omar", "Priya", "Rafael", "Sara", "Sofia", "Tariq", "Tom", "Wei",
    "Yara", "Yusuf", "Zoe", "Marco", "Nina", "Pablo", "Rin", "Samuel",
)
LAST_NAMES: tuple[str, ...] = (
    "Adeyemi", "Andersen", "Bauer", "Costa", "Dubois", "Fernandez", "Garcia", "Gupta",
    "Hansen", "Ito", "Ivanova", "Jensen", "Kim", "Kowalski", "Kumar", "Lee", "Lopez",
    "Martin", "Meyer", "Moreau", "Mueller", "Nakamura", "Nguyen", "Novak", "Okafor",
    "Olsen", "Park", "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith",
    "Tanaka", "Wang", "Weber", "Williams", "Yilmaz", "Zhang",
)

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
