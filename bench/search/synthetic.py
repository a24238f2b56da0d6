"""A generated, deterministic tree of contexts and a list of natural search queries over the same words.

The tree looks like a team's knowledge base: 10 areas, about 10 children per context, depth up to 5
(levels of 10 / 100 / 1,000 / 10,000 / the rest), kinds (note, decision, runbook, ...), 1-3 tags,
a short title and 1-3 generated sentences of content (short-to-medium text, so that indexing 50,000
contexts takes minutes). The queries are built from the same vocabulary, all distinct.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

AREAS = ("engineering", "operations", "product", "sales", "support", "research", "legal", "finance", "people",
         "design")
KINDS = ("note", "decision", "runbook", "spec", "incident", "meeting", "faq", "design-doc")
TAGS = ("backend", "frontend", "infra", "security", "billing", "onboarding", "mobile", "data", "ml", "compliance",
        "performance", "reliability", "customer", "roadmap", "hiring", "api", "search", "storage", "network", "ux")
NOUNS = (
    "database", "cache", "queue", "deployment", "release", "invoice", "customer", "contract", "dashboard", "alert",
    "pipeline", "schema", "index", "migration", "certificate", "password", "token", "cluster", "backup", "replica",
    "service", "endpoint", "webhook", "report", "budget", "forecast", "roadmap", "feature", "experiment", "model",
    "dataset", "permission", "role", "account", "subscription", "refund", "ticket", "incident", "outage", "latency",
    "throughput", "memory", "disk", "network", "firewall", "gateway", "proxy", "load balancer", "container", "image",
    "build", "test suite", "review", "meeting", "interview", "candidate", "policy", "audit", "vendor", "license",
)
VERBS = (
    "rotate", "migrate", "deploy", "restore", "monitor", "scale", "debug", "configure", "archive", "approve",
    "review", "rebuild", "replace", "document", "measure", "encrypt", "throttle", "retry", "schedule", "validate",
    "export", "import", "cancel", "renew", "escalate", "investigate", "benchmark", "upgrade", "roll back", "clean up",
)
ADJECTIVES = (
    "slow", "failed", "expired", "duplicate", "missing", "stale", "primary", "regional", "nightly", "quarterly",
    "critical", "internal", "external", "legacy", "new", "shared", "encrypted", "partial", "large", "weekly",
)
PREPOSITIONS = ("for", "in", "after", "before", "during", "behind", "with", "without")
SUBJECTS = ("The on-call engineer", "Our team", "The finance group", "Support", "The platform team", "Each owner",
            "The release manager", "Security", "The data team", "A reviewer")


@dataclass
class Item:
    path: str
    kind: str
    title: str
    content: str
    tags: list[str] = field(default_factory=list)


def sentence(rng: random.Random) -> str:
    return (f"{rng.choice(SUBJECTS)} {rng.choice(('should', 'must', 'will', 'can'))} {rng.choice(VERBS)} the "
            f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(PREPOSITIONS)} the {rng.choice(NOUNS)}"
            f"{rng.choice(('', ' when it breaks', ' every week', ' before the release', ' once the owner agrees'))}.")


def level_sizes(n: int) -> list[int]:
    """10 / 100 / 1,000 / 10,000 / the rest (fan-out about 10), cut at n."""
    sizes, left, width = [], n, 10
    while left > 0:
        take = min(left, width) if width < 100_000 else left
        sizes.append(take)
        left -= take
        width *= 10
    return sizes


def tree(n: int, seed: int = 12) -> list[Item]:
    """n contexts, parents before children; every path unique."""
    rng = random.Random(seed)
    items: list[Item] = []
    previous: list[str] = [""]
    for depth, size in enumerate(level_sizes(n)):
        level: list[str] = []
        for i in range(size):
            parent = AREAS[i] if depth == 0 else rng.choice(previous)
            noun = rng.choice(NOUNS).replace(" ", "-")
            path = f"/{parent}" if depth == 0 else f"{parent}/{noun}-{i}"
            kind = "area" if depth == 0 else rng.choice(KINDS)
            title = f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)} {kind.replace('-', ' ')}"
            content = " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))
            items.append(Item(path, kind, title, content, rng.sample(TAGS, rng.randint(1, 3))))
            level.append(path)
        previous = level
    return items


QUERY_FORMS = (
    "how do we {verb} the {adj} {noun}",
    "{adj} {noun} {prep} the {noun2}",
    "why is the {noun} {adj}",
    "who can {verb} a {noun}",
    "steps to {verb} {noun} {prep} {noun2}",
    "{noun} {verb} checklist",
    "what happens when the {noun} is {adj}",
    "{verb} {adj} {noun}",
)


def queries(count: int, seed: int = 34) -> list[str]:
    """`count` distinct natural queries over the tree's vocabulary, in a fixed shuffled order."""
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        form = rng.choice(QUERY_FORMS)
        found[form.format(verb=rng.choice(VERBS), adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS),
                          noun2=rng.choice(NOUNS), prep=rng.choice(PREPOSITIONS))] = None
    return list(found)
