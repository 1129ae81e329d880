"""Fixed vocabularies of the simulated product: event names, pages, profile values, comment themes.

Kept in one module so the loaders' and dbt authors' tests can import the exact names the generator
emits (the contract in docs/data-contracts.md section 1 is the source of truth; these lists mirror it).
"""

from __future__ import annotations

# --- events (contract section 1, "Event names used by the product (exactly)") -------------------------
EVENT_NAMES: tuple[str, ...] = (
    "user.signed_up",
    "user.logged_in",
    "user.imported_first_data",
    "user.imported_data",
    "user.ran_first_query",
    "user.ran_query",
    "user.invited_teammate",
    "user.created_integration",
    "user.completed_tutorial",
    "user.ran_analysis",
    "user.used_feature",
    "subscription.cancelled",
)
EV = {name: code for code, name in enumerate(EVENT_NAMES)}

# Events emitted by the backend (RudderStack server-side source) rather than analytics.js.
SERVER_EVENTS: frozenset[str] = frozenset(
    {
        "user.imported_first_data",
        "user.imported_data",
        "user.invited_teammate",
        "user.created_integration",
        "subscription.cancelled",
    }
)

MILESTONES: tuple[str, ...] = (
    "user.imported_first_data",
    "user.ran_first_query",
    "user.invited_teammate",
    "user.created_integration",
    "user.completed_tutorial",
)

# --- pages: (path, Segment page name, title); the first five are the marketing site ----------------
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/", "Home", "Warehouse-native analytics"),
    ("/pricing", "Pricing", "Pricing"),
    ("/product", "Product", "Product tour"),
    ("/blog/warehouse-native-onboarding", "Blog Post", "Warehouse-native onboarding"),
    ("/signup", "Sign Up", "Create your account"),
    ("/welcome", "Welcome", "Welcome"),
    ("/app", "App Home", "Home"),
    ("/app/queries", "Queries", "Queries"),
    ("/app/analyses", "Analyses", "Analyses"),
    ("/app/data/import", "Import Data", "Import data"),
    ("/integrations", "Integrations", "Integrations"),
    ("/docs/getting-started", "Docs", "Getting started"),
    ("/settings/team", "Team Settings", "Team"),
    ("/settings/billing", "Billing", "Billing"),
    ("/settings/billing/downgrade", "Downgrade Plan", "Change your plan"),
    ("/app/tutorial", "Tutorial", "Welcome checklist"),
)
PG = {path: code for code, (path, _, _) in enumerate(PAGES)}
MARKETING_PAGES = (PG["/"], PG["/pricing"], PG["/product"], PG["/blog/warehouse-native-onboarding"])
APP_PAGES = (
    PG["/app"],
    PG["/app/queries"],
    PG["/app/analyses"],
    PG["/app/data/import"],
    PG["/integrations"],
    PG["/docs/getting-started"],
    PG["/settings/team"],
    PG["/app/tutorial"],
)
APP_PAGE_WEIGHTS = (0.30, 0.25, 0.12, 0.07, 0.08, 0.08, 0.05, 0.05)
MARKETING_HOST = "https://www.example.com"
APP_HOST = "https://app.example.com"

# The page in whose context (context.page) each track event fires.
EVENT_PAGE: dict[str, str] = {
    "user.signed_up": "/signup",
    "user.logged_in": "/app",
    "user.imported_first_data": "/app/data/import",
    "user.imported_data": "/app/data/import",
    "user.ran_first_query": "/app/queries",
    "user.ran_query": "/app/queries",
    "user.invited_teammate": "/settings/team",
    "user.created_integration": "/integrations",
    "user.completed_tutorial": "/app/tutorial",
    "user.ran_analysis": "/app/analyses",
    "user.used_feature": "/app",
    "subscription.cancelled": "/settings/billing/downgrade",
}

# --- string property values (one pool so an event row carries a single small code) ----------------
LOGIN_METHODS = ("password", "google", "sso", "magic_link")
SOURCE_TYPES = ("csv", "shopify", "postgres", "bigquery", "google_sheets", "s3")
INTEGRATIONS = ("shopify", "salesforce", "hubspot", "snowflake", "stripe", "slack", "zendesk", "bigquery")
ANALYSIS_TYPES = ("cohort", "funnel", "retention", "forecast", "segmentation")
FEATURES = (
    "dashboards",
    "sql_editor",
    "ai_analysis",
    "alerts",
    "scheduled_reports",
    "api_access",
    "data_import",
    "sso",
)
CANCEL_REASONS = ("too_expensive", "missing_integration", "not_using_enough", "switched_tool", "other")
SIGNUP_METHODS = ("email", "google", "github")
INVITEE_ROLES = ("admin", "editor", "viewer")

STR_POOL: tuple[str, ...] = (
    *LOGIN_METHODS,
    *SOURCE_TYPES,
    *INTEGRATIONS,
    *ANALYSIS_TYPES,
    *FEATURES,
    *CANCEL_REASONS,
    *SIGNUP_METHODS,
    *INVITEE_ROLES,
)


def pool_offset(group: tuple[str, ...]) -> int:
    """Code of the first value of ``group`` inside STR_POOL (groups are laid out contiguously)."""
    for i in range(len(STR_POOL) - len(group) + 1):
        if STR_POOL[i : i + len(group)] == group:
            return i
    raise KeyError(group)


# --- profiles --------------------------------------------------------------------------------------
PERSONAS: tuple[str, ...] = ("fast_adopter", "steady", "slow_starter", "silent_churner", "returner")
PLANS = ("free", "trial", "pro", "enterprise")
PLAN_WEIGHTS = (0.34, 0.36, 0.22, 0.08)
COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
COMPANY_SIZE_WEIGHTS = (0.25, 0.30, 0.22, 0.14, 0.09)
INDUSTRIES = (
    "ecommerce",
    "saas",
    "fintech",
    "healthcare",
    "education",
    "media",
    "manufacturing",
    "logistics",
)
INDUSTRY_WEIGHTS = (0.20, 0.22, 0.12, 0.10, 0.09, 0.09, 0.09, 0.09)
ROLES = (
    "Software Engineer",
    "Data Engineer",
    "Product Lead",
    "Product Manager",
    "Data Analyst",
    "VP Sales",
    "CEO",
    "Founder",
    "Head of Marketing",
    "Operations Analyst",
    "Marketing Coordinator",
    "Customer Support",
)
ROLE_WEIGHTS = (0.14, 0.10, 0.07, 0.10, 0.09, 0.06, 0.05, 0.05, 0.07, 0.10, 0.09, 0.08)
TECHNICAL_ROLES = frozenset(
    {"Software Engineer", "Data Engineer", "Product Lead", "Product Manager", "Data Analyst"}
)
EXECUTIVE_ROLES = frozenset({"VP Sales", "CEO", "Founder", "Head of Marketing"})
UTM_SOURCES = ("google", "linkedin", "referral", "producthunt", "newsletter", "partner", "twitter")
UTM_WEIGHTS = (0.34, 0.20, 0.16, 0.08, 0.10, 0.06, 0.06)
UTM_MEDIUM = {
    "google": "cpc",
    "linkedin": "paid_social",
    "referral": "referral",
    "producthunt": "referral",
    "newsletter": "email",
    "partner": "partner",
    "twitter": "social",
}
CAMPAIGNS = ("spring_launch", "warehouse_native", "brand", "retargeting", "webinar_q3")

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mateo",
    "Priya", "Arjun", "Mei", "Hiroshi", "Yuki", "Fatima", "Omar", "Aisha", "Olusegun", "Chidi",
    "José", "Zoë", "Łukasz", "Søren", "Chloé", "Renée", "Björn", "Anaïs", "Nikolaj", "Ingrid",
    "Grace", "Daniel", "Hannah", "David", "Sarah", "Michael", "Laura", "James", "Elena", "Marco",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Patel", "Nguyen", "Kim", "García", "Müller", "O'Brien", "Kowalski", "Rossi",
    "Dubois", "Andersson", "Okafor", "Tanaka", "Silva", "Cohen", "Schmidt", "Novak", "Haddad", "Larsen",
    "Chen", "Williams", "Brown", "Jones", "Martin", "Lopez", "Fischer", "Ivanova", "Singh", "Zhang",
)  # fmt: skip
COMPANY_STEMS = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Cyberdyne",
    "Tyrell", "Wonka", "Pied Piper", "Aperture", "Blue Sun", "Oceanic", "Monarch", "Bluth", "Dunder",
    "Sterling", "Wayne", "Stark", "Gekko", "Duff", "Krusty", "Nakatomi", "Prestige", "Virtucon", "Zorg",
)  # fmt: skip
INDUSTRY_SUFFIX = {
    "ecommerce": ("Shop", "Commerce", "Goods", "Market"),
    "saas": ("Cloud", "Labs", "Software", "Apps"),
    "fintech": ("Pay", "Capital", "Finance", "Ledger"),
    "healthcare": ("Health", "Care", "Clinics", "Bio"),
    "education": ("Learning", "Academy", "Edu", "Tutors"),
    "media": ("Media", "Studios", "News", "Press"),
    "manufacturing": ("Manufacturing", "Industries", "Works", "Fabrication"),
    "logistics": ("Logistics", "Freight", "Shipping", "Transport"),
}
LEGAL_SUFFIX = ("Inc", "GmbH", "Ltd", "LLC", "& Co", "", "", "", "")
FREE_MAIL = ("gmail.com", "outlook.com", "proton.me", "yahoo.com")

USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
UA_OS_BROWSER = (
    ("Mac OS X", "Safari"),
    ("Windows", "Chrome"),
    ("Mac OS X", "Chrome"),
    ("Linux", "Firefox"),
    ("Windows", "Firefox"),
    ("iOS", "Mobile Safari"),
)
TIMEZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
)
LOCALES = ("en-US", "en-US", "en-GB", "de-DE", "en-IN", "ja-JP")

# --- support tickets ------------------------------------------------------------------------------
TICKET_SUBJECTS = (
    "CSV import stuck at 0%",
    "Cannot connect Salesforce integration",
    "How do I invite my team?",
    "Question about my invoice",
    "Query times out on large table",
    "SSO setup help",
    "Dashboard not loading",
    "Shopify sync missing orders",
    "Can't find the tutorial checklist",
    "Password reset email never arrives",
)

# --- NPS comments by theme ------------------------------------------------------------------------
DETRACTOR_THEMES: dict[str, tuple[str, ...]] = {
    "onboarding_confusion": (
        "The setup steps were confusing, I didn't know what to do after importing data.",
        "Too many options on the first screen, I got lost.",
        "The welcome checklist skipped the part I actually needed.",
    ),
    "missing_integration": (
        "No native {integration} connector, which is a dealbreaker for us.",
        "We need a {integration} integration before we can roll this out.",
    ),
    "pricing": (
        "Too expensive for a team of our size.",
        "The jump from free to pro is too steep.",
    ),
    "performance": (
        "Queries on our larger tables are painfully slow.",
        "Dashboards take forever to load.",
    ),
    "bugs": (
        "The CSV import failed twice with no error message.",
        "Charts broke after I renamed a column.",
    ),
}
QUIT_THEMES: dict[str, tuple[str, ...]] = {
    "onboarding_confusion": (
        "I nearly quit in week one because I couldn't figure out the onboarding.",
        "Almost gave up when the tutorial didn't match my data.",
    ),
    "missing_integration": (
        "What nearly made me quit: no {integration} integration, we still export by hand.",
    ),
    "pricing": ("The price. We almost switched to a cheaper tool at renewal.",),
    "performance": ("Slow queries in the first week nearly made us quit.",),
    "bugs": ("The import bug that lost half our rows nearly made us quit.",),
}
PASSIVE_COMMENTS = (
    "Solid product, still learning my way around.",
    "Good so far, would like more templates.",
    "Works, but the docs could be clearer.",
    "",
)
PROMOTER_COMMENTS = (
    "Love how fast I got my first dashboard.",
    "The tutorial got our whole team going in a day.",
    "Great integrations, support answered within minutes.",
    "",
)
PROMOTER_QUIT_COMMENTS = (
    "Nothing really, the first import was smooth.",
    "Almost quit when the import failed, but support fixed it quickly.",
    "Honestly nothing, it clicked on day one.",
)
