"""The vocabulary of the synthetic world: domains, sub-specialties, industries, names.

Twelve domains, each with job titles, skills and three or four sub-specialties. Every
sub-specialty has several phrasings chosen to share few words ("computer vision" /
"teaching machines to understand photos and video"), so word overlap alone misses
matches that a sentence encoder catches. Structured fields only ever name the domain;
the sub-specialties appear only in the texts (``synthetic.texts``). Skills and job titles are kept
neutral within a domain (no "Flutter" skill, no "iOS engineer" title), so that neither
the structured fields nor the title in a bio hint at a niche.
"""

from __future__ import annotations

from dataclasses import dataclass


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
