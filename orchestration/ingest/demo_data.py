"""Synthetic, deterministic demo data for the raw data contract (leads, events, orders).

Everything is generated inside one DuckDB connection (a scratch file beside the output, under a memory
limit, so that 10 M leads fit a machine's memory: BENCHMARKS.md), vectorised: there is no Python loop over
rows. Randomness comes from hashing ``(seed, key, salt)`` with DuckDB's ``hash`` (stable across runs of the
same DuckDB version), so the same arguments always give byte-identical files.

The story behind the data, step by step:

1. **Companies** get an industry, a size, a revenue and a country.
2. **Leads** belong to a company, get a name, an email, a job title, a source and a ``created_at`` in the
   two years before ``end_date`` (recent leads more frequent). Each lead has a hidden *fit* (who they are,
   see :data:`FIT_FORMULA`) and a hidden *intent* (how hot they are; partly driven by fit).
3. **Events**: web sessions (page views minutes apart, clustered in bursts: one right after creation and a
   few later ones, quiet periods in between) whose pages turn into pricing views, downloads, webinar
   registrations (some attended a few days later), forms, demo requests and trial starts (the last two
   rare and concentrated in high-intent leads); plus an email programme (regular sends; opens are a fraction
   of sends, clicks a fraction of opens; rare soft/hard bounces and unsubscribes).
4. **Conversion**: the hidden propensity ``logistic(FIT_WEIGHT * fit + BEHAVIOUR_WEIGHT * behaviour +
   INTERCEPT + noise)`` where behaviour is computed from the lead's realised events (see
   :data:`BEHAVIOUR_FORMULA`). Converted leads become ``customer`` a few days after their most decisive event.
   The propensity is never written to any file.
5. **Orders**: 1-6 orders per customer after the conversion.

Every column is written as text (VARCHAR) so CSV and Parquet carry identical values. ``bad_row_fraction``
appends deterministic contract-breaking rows to each table (see :data:`BAD_ROW_KINDS`).
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb

from orchestration.progress import report
from orchestration.settings import RAW_CONTRACT
from orchestration.warehouse import connect_scratch, connect_writer

FORMATS: tuple[str, ...] = ("parquet", "csv")
TABLES: tuple[str, ...] = ("leads", "events", "orders")
DAY = 86_400
HISTORY_DAYS = 730

# --------------------------------------------------------------------------------------------------
# Reference data: (value, weight[, hidden fit contribution]). Weights need not sum to one.
# --------------------------------------------------------------------------------------------------

INDUSTRIES: tuple[tuple[str, float, float], ...] = (
    ("technology", 22, 1.0),
    ("retail", 15, 0.8),
    ("finance", 9, 0.8),
    ("healthcare", 8, 0.2),
    ("manufacturing", 9, 0.2),
    ("education", 6, -0.4),
    ("media", 5, 0.2),
    ("government", 4, -0.6),
    ("consulting", 8, 0.3),
    ("energy", 4, 0.1),
    ("logistics", 5, 0.1),
    ("real estate", 5, 0.0),
)

# code, weight, fit, top-level domain, legal-form suffixes, billing currency
COUNTRIES: tuple[tuple[str, float, float, str, tuple[str, ...], str], ...] = (
    ("FR", 44, 1.0, "fr", ("SAS", "SA", "SARL"), "EUR"),
    ("BE", 7, 1.0, "be", ("SA", "SRL", "BV"), "EUR"),
    ("CH", 6, 1.0, "ch", ("AG", "SA", "GmbH"), "CHF"),
    ("LU", 2, 1.0, "lu", ("SA", "SARL"), "EUR"),
    ("DE", 6, 0.4, "de", ("GmbH", "AG"), "EUR"),
    ("ES", 4, 0.4, "es", ("SL", "SA"), "EUR"),
    ("IT", 4, 0.4, "it", ("SpA", "Srl"), "EUR"),
    ("NL", 3, 0.4, "nl", ("BV",), "EUR"),
    ("GB", 5, 0.4, "co.uk", ("Ltd", "PLC"), "GBP"),
    ("US", 6, 0.3, "com", ("Inc", "LLC", "Corp"), "USD"),
    ("CA", 2, 0.3, "ca", ("Inc", "Ltd"), "USD"),
    ("PT", 1, 0.4, "pt", ("Lda", "SA"), "EUR"),
    ("BR", 1.5, -0.5, "com.br", ("Ltda", "SA"), "USD"),
    ("IN", 1.5, -0.5, "in", ("Pvt Ltd",), "USD"),
    ("JP", 1, -0.5, "co.jp", ("KK",), "USD"),
    ("AU", 1, -0.3, "com.au", ("Pty Ltd",), "USD"),
    ("MA", 1.5, -0.5, "ma", ("SARL", "SA"), "EUR"),
    ("SN", 1, -0.5, "sn", ("SARL", "SA"), "EUR"),
    ("TN", 1, -0.5, "tn", ("SARL",), "EUR"),
)

# title, weight, seniority
JOB_TITLES: tuple[tuple[str, float, str], ...] = (
    ("CEO", 5, "c_level"),
    ("Founder", 4, "c_level"),
    ("Chief Technology Officer", 2, "c_level"),
    ("CFO", 2, "c_level"),
    ("VP Marketing", 3, "vp"),
    ("VP Sales", 3, "vp"),
    ("Head of Growth", 4, "director"),
    ("Marketing Director", 6, "director"),
    ("IT Director", 4, "director"),
    ("Sales Manager", 7, "manager"),
    ("IT Manager", 5, "manager"),
    ("Product Manager", 6, "manager"),
    ("Software Engineer", 8, "individual"),
    ("Marketing Analyst", 6, "individual"),
    ("Accountant", 3, "individual"),
    ("Consultant", 6, "individual"),
    ("Student", 4, "student"),
    ("Intern", 3, "student"),
    ("PhD Student", 2, "student"),
    ("", 15, "unknown"),  # empty job title (written as NULL)
)
SENIORITY_FIT: dict[str, float] = {
    "c_level": 1.0,
    "vp": 0.9,
    "director": 0.7,
    "manager": 0.3,
    "individual": 0.0,
    "unknown": -0.1,
    "student": -1.5,
}

# source, weight, hidden fit contribution. The default point tables do not score the lead source, so a
# calibration has something real to find: referrals, partners and events bring buyers, social clicks do not.
LEAD_SOURCES: tuple[tuple[str, float, float], ...] = (
    ("organic_search", 28, 0.0),
    ("paid_search", 15, -0.5),
    ("social", 12, -1.5),
    ("referral", 8, 2.0),
    ("event", 7, 1.0),
    ("partner", 6, 1.5),
    ("direct", 14, 0.3),
    ("email_campaign", 10, -0.8),
)

FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "yahoo.fr",
    "hotmail.com",
    "outlook.com",
    "orange.fr",
    "free.fr",
    "gmx.de",
)
COMPETITOR_DOMAINS: tuple[str, ...] = ("hubspot.com", "marketo.com", "salesforce.com", "oracle.com")
EMAIL_KIND_FIT: dict[str, float] = {"corporate": 0.0, "free_mail": -1.0, "competitor": -3.0}

FIRST_NAMES: tuple[str, ...] = (
    "Marie", "Thomas", "Camille", "Nicolas", "Julie", "Antoine", "Sophie", "Julien", "Claire", "Pierre",
    "Laura", "Maxime", "Emma", "Lucas", "Chloe", "Hugo", "Sarah", "Louis", "Lea", "Mathieu",
    "Manon", "Alexandre", "Ines", "Romain", "Pauline", "Kevin", "Anna", "Jan", "Lukas", "Sofia",
    "Marco", "Giulia", "Pablo", "Lucia", "Daan", "Fleur", "James", "Olivia", "Michael", "Emily",
    "David", "Jessica", "Liam", "Noah", "Yuki", "Priya", "Rahul", "Fatima", "Youssef", "Aminata",
    "Moussa", "Karim", "Nadia", "Joao", "Ana", "Luca", "Elena", "Felix", "Hannah", "Oscar",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "Andre", "Mercier", "Dupont", "Lambert", "Bonnet", "Francois", "Martinez", "Legrand",
    "Peeters", "Janssens", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Rossi", "Russo", "Ferrari",
    "Fernandez", "Lopez", "Gonzalez", "DeVries", "Jansen", "Smith", "Jones", "Williams", "Brown", "Taylor",
    "Johnson", "Miller", "Tremblay", "Gagnon", "Silva", "Santos", "Sharma", "Patel", "Tanaka", "Sato",
    "Benali", "Diallo", "Ndiaye", "Haddad", "Kone", "Nguyen", "Chevalier", "Blanc", "Guerin", "Faure",
)  # fmt: skip
SYLLABLES: tuple[str, ...] = (
    "no", "va", "tek", "lu", "mi", "ra", "zen", "bi", "qua", "dor", "sol", "ix", "ver", "ta", "lo",
    "gi", "cor", "pa", "fin", "ly", "mar", "ket", "da", "clo", "ud", "ar", "ga", "neo", "vo", "ri",
    "sa", "te", "po", "lis", "ka", "del", "tri", "on", "um", "ex", "al", "be", "cy", "fa", "ne",
)  # fmt: skip
# Words a company name may carry after its core, by industry.
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "technology": ("Labs", "Software", "Technologies", "Systems"),
    "retail": ("Store", "Shop", "Retail", "Market"),
    "finance": ("Capital", "Finance", "Invest", "Bank"),
    "healthcare": ("Health", "Care", "Medical", "Pharma"),
    "manufacturing": ("Industries", "Manufacturing", "Works", "Engineering"),
    "education": ("Academy", "Learning", "School", "Education"),
    "media": ("Media", "Studio", "Productions", "News"),
    "government": ("Agency", "Public Services", "Region", "Office"),
    "consulting": ("Consulting", "Partners", "Advisory", "Group"),
    "energy": ("Energy", "Power", "Renewables", "Solar"),
    "logistics": ("Logistics", "Transport", "Freight", "Express"),
    "real estate": ("Immo", "Properties", "Real Estate", "Homes"),
}

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "pricing_page_view",
    "email_sent",
    "email_open",
    "email_click",
    "content_download",
    "webinar_registration",
    "webinar_attended",
    "newsletter_signup",
    "form_submit",
    "demo_request",
    "trial_start",
    "unsubscribe",
    "email_bounce",
)
PAGES: tuple[str, ...] = (
    "/", "/", "/product", "/features/scoring", "/features/integrations", "/customers", "/about", "/careers",
    "/blog/what-is-lead-scoring", "/blog/rfm-for-b2b", "/blog/dbt-for-marketing", "/docs/getting-started",
    "/integrations/hubspot", "/integrations/salesforce", "/security", "/contact",
)  # fmt: skip
ASSETS: tuple[str, ...] = (
    "ebook_lead_scoring",
    "whitepaper_b2b_funnel",
    "checklist_crm_hygiene",
    "case_study_retail",
    "report_state_of_marketing",
)
WEBINARS: tuple[str, ...] = ("product_tour", "scoring_masterclass", "customer_panel", "dbt_for_marketers")
CAMPAIGNS: tuple[str, ...] = (
    "monthly_newsletter",
    "monthly_newsletter",
    "spring_launch",
    "webinar_invite",
    "product_update",
    "case_study_series",
    "black_friday",
    "trial_nurture",
)
TIMESTAMP_OFFSETS: tuple[tuple[str, int], ...] = (("+01:00", 3600), ("+02:00", 7200), ("-05:00", -18000))

# --------------------------------------------------------------------------------------------------
# The hidden model (kept readable here for a later backtest; never written to any file).
# --------------------------------------------------------------------------------------------------

SIZE_FIT_SQL = """CASE
    WHEN employees BETWEEN 100 AND 1000 THEN 1.0
    WHEN employees BETWEEN 50 AND 5000 THEN 0.5
    WHEN employees > 5000 THEN 0.2
    WHEN employees >= 10 THEN 0.0
    ELSE -0.6 END"""

# fit = industry fit + size fit + country fit + seniority fit + email-kind fit + source fit (typical -5 .. 5)
FIT_FORMULA = "industry_fit + size_fit + country_fit + seniority_fit + email_fit + source_fit"
# behaviour from the lead's realised events (typical range 0 .. 6)
BEHAVIOUR_FORMULA = """1.6 * least(n_demo_request, 2)
    + 1.2 * least(n_trial_start, 2)
    + 0.35 * ln(1 + n_pricing_page_view)
    + 0.5 * ln(1 + n_webinar_attended)
    + 0.25 * ln(1 + n_content_download)"""
FIT_WEIGHT = 0.8
BEHAVIOUR_WEIGHT = 1.0
INTERCEPT = -5.0
NOISE_SD = 0.7
# intent (how hot a lead is) is partly driven by fit: intent = INTENT_FIT_WEIGHT * (fit - 1.5) + N(0, 1)
INTENT_FIT_WEIGHT = 0.35

# --------------------------------------------------------------------------------------------------
# Contract-breaking rows injected when bad_row_fraction > 0, per table (round-robin over the kinds).
# --------------------------------------------------------------------------------------------------

BAD_ROW_KINDS: dict[str, tuple[str, ...]] = {
    "leads": ("missing_lead_id", "bad_timestamp", "future_timestamp", "duplicate_id", "bad_employee_count"),
    "events": (
        "missing_lead_id",
        "unknown_lead",
        "unknown_event_type",
        "bad_timestamp",
        "future_timestamp",
        "duplicate_id",
    ),
    "orders": (
        "missing_lead_id",
        "unknown_lead",
        "bad_timestamp",
        "future_timestamp",
        "duplicate_id",
        "negative_amount",
        "bad_amount",
    ),
}
UNKNOWN_LEAD_ID = "L9999999x"
UNKNOWN_EVENT_TYPE = "page_veiw"
BAD_TIMESTAMPS: tuple[str, ...] = ("2025-13-45T99:00:00Z", "yesterday")
BAD_EMPLOYEE_COUNT = "about fifty"
BAD_AMOUNT = "12,50 EUR"
FUTURE_DAYS = 400


# --------------------------------------------------------------------------------------------------
# Small SQL builders (they loop over the constant reference lists above, never over rows).
# --------------------------------------------------------------------------------------------------


def sql_literal(value: str) -> str:
    """Quote a Python string as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _list(values: Sequence[str]) -> str:
    """A SQL list literal of strings."""
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def _pick(u: str, values: Sequence[str]) -> str:
    """Uniform choice from ``values`` driven by the uniform [0, 1) expression ``u``."""
    return f"{_list(values)}[1 + floor({u} * {len(values)})::INTEGER]"


def _weighted(u: str, options: Sequence[tuple[str, float]]) -> str:
    """Weighted choice: a CASE over cumulative weights of ``options`` driven by the uniform column ``u``."""
    total = sum(weight for _, weight in options)
    cumulative = 0.0
    whens = []
    for value, weight in options[:-1]:
        cumulative += weight / total
        whens.append(f"WHEN {u} < {cumulative:.6f} THEN {sql_literal(value)}")
    return f"CASE {' '.join(whens)} ELSE {sql_literal(options[-1][0])} END"


def _lookup(column: str, mapping: dict[str, str | float], default: str = "NULL") -> str:
    """A CASE mapping the values of ``column`` to SQL literals."""
    whens = " ".join(
        f"WHEN {sql_literal(key)} THEN {sql_literal(val) if isinstance(val, str) else repr(val)}"
        for key, val in mapping.items()
    )
    return f"CASE {column} {whens} ELSE {default} END"


def _case_on(column: str, branches: dict[str, str], default: str = "NULL") -> str:
    """A CASE mapping the values of ``column`` to SQL expressions."""
    whens = " ".join(f"WHEN {sql_literal(key)} THEN {sql}" for key, sql in branches.items())
    return f"(CASE {column} {whens} ELSE {default} END)"


def _event_code(name: str) -> int:
    """The numeric code of an event type (its index in :data:`EVENT_TYPES`)."""
    return EVENT_TYPES.index(name)


# --------------------------------------------------------------------------------------------------
# Generation steps. Each returns SQL text; generate_demo_data runs them in order on one connection.
# --------------------------------------------------------------------------------------------------


def _macros_sql(seed: int) -> str:
    """Deterministic randomness: uniforms, normals and exponentials keyed by (seed, key..., salt).

    DuckDB's multi-argument ``hash(a, b, c)`` combines its arguments too weakly (two salts give strongly
    correlated values), so keys are mixed explicitly: ``hash(xor(hash(key), hash(seed, salt)))``.
    """
    return f"""
    CREATE MACRO salt_key(salt) AS hash({seed}, salt);
    -- the top 53 bits of the mixed hash, as a double in [0, 1)
    CREATE MACRO u(k, salt) AS (hash(xor(hash(k), salt_key(salt))) >> 11)::DOUBLE / 9007199254740992.0;
    CREATE MACRO u2(k1, k2, salt) AS
        (hash(xor(hash(k1), hash(xor(hash(k2), salt_key(salt))))) >> 11)::DOUBLE / 9007199254740992.0;
    CREATE MACRO normal(k, salt) AS
        sqrt(-2 * ln(1 - u(k, salt || '.r'))) * cos(2 * pi() * u(k, salt || '.a'));
    CREATE MACRO expo2(k1, k2, salt) AS -ln(1 - u2(k1, k2, salt));
    CREATE MACRO sigmoid(x) AS 1 / (1 + exp(-x));
    CREATE MACRO capitalize(t) AS upper(t[1]) || t[2:];
    -- a second of the day, mostly European working hours (07:00-18:00 UTC), sometimes any time
    CREATE MACRO daytime(k1, k2, salt) AS floor(CASE WHEN u2(k1, k2, salt || '.w') < 0.75
        THEN 25200 + u2(k1, k2, salt) * 39600 ELSE u2(k1, k2, salt) * 86400 END)::BIGINT;
    """


def _companies_sql(n_companies: int) -> str:
    """Companies: industry, country, log-normal size, revenue correlated with size, name and domain."""
    industry_words = _case_on("industry", {k: _pick("u_word", v) for k, v in INDUSTRY_WORDS.items()})
    suffixes = _case_on("country", {c[0]: _pick("u_suffix", c[4]) for c in COUNTRIES})
    tlds = _lookup("country", {c[0]: c[3] for c in COUNTRIES}, "'com'")
    return f"""
    CREATE TABLE companies AS
    WITH draws AS (
        SELECT c AS company_no,
            u(c, 'industry') AS u_industry, u(c, 'country') AS u_country,
            normal(c, 'size') AS z_size, normal(c, 'revenue') AS z_revenue,
            u(c, 'syl1') AS u_syl1, u(c, 'syl2') AS u_syl2, u(c, 'syl3') AS u_syl3, u(c, 'shape') AS u_shape,
            u(c, 'word') AS u_word, u(c, 'suffix') AS u_suffix, u(c, 'tld') AS u_tld
        FROM range({n_companies}) t(c)
    ), attributes AS (
        SELECT *,
            {_weighted("u_industry", [(i[0], i[1]) for i in INDUSTRIES])} AS industry,
            {_weighted("u_country", [(c[0], c[1]) for c in COUNTRIES])} AS country,
            least(50000, greatest(1, round(exp(ln(30) + 1.7 * z_size))))::INTEGER AS employees,
            least(50000, greatest(1, round(exp(ln(30) + 1.7 * z_size)))) * 110000 * exp(0.5 * z_revenue)
                AS revenue_raw,
            {_pick("u_syl1", SYLLABLES)} || {_pick("u_syl2", SYLLABLES)}
                || CASE WHEN u_shape < 0.4 THEN {_pick("u_syl3", SYLLABLES)} ELSE '' END AS core
        FROM draws
    )
    SELECT company_no, industry, country, employees,
        -- revenue ~ employees x log-normal revenue per employee (median 110k), 3 significant digits
        round(revenue_raw, (2 - floor(log10(revenue_raw)))::INTEGER)::BIGINT AS revenue,
        capitalize(core) || CASE WHEN u_shape >= 0.7 THEN ' ' || {industry_words} ELSE '' END
            || ' ' || {suffixes} AS company_name,
        core || '.' || CASE WHEN u_tld < 0.35 THEN 'com' ELSE {tlds} END AS domain
    FROM attributes
    """


def _leads_plan_sql(leads: int, n_companies: int, end_s: int) -> str:
    """Leads: who they are, when they were created, their hidden fit and intent, their activity plan."""
    span = HISTORY_DAYS * DAY
    industry_fit = _lookup("c.industry", {i[0]: i[2] for i in INDUSTRIES}, "0.0")
    country_fit = _lookup("c.country", {c[0]: c[2] for c in COUNTRIES}, "0.0")
    seniority = _lookup("job_title", {t[0]: t[2] for t in JOB_TITLES}, "'unknown'")
    seniority_fit = _lookup("seniority", dict(SENIORITY_FIT), "0.0")
    email_fit = _lookup("email_kind", dict(EMAIL_KIND_FIT), "0.0")
    source_fit = _lookup("lead_source", {s[0]: s[2] for s in LEAD_SOURCES}, "0.0")
    size_fit = SIZE_FIT_SQL.replace("employees", "c.employees")
    return f"""
    CREATE TABLE plan AS
    WITH draws AS (
        SELECT i,
            -- a few big companies have many leads, most have one or two
            floor(pow(u(i, 'company'), 1.3) * {n_companies})::BIGINT AS company_no,
            -- created_at: age skewed towards recent (density ~ age^-0.4), whole seconds
            ({end_s} - floor(pow(u(i, 'age'), 1.6) * {span})::BIGINT) // {DAY} * {DAY}
                + daytime(i, 0, 'created') AS created_s,
            u(i, 'first') AS u_first, u(i, 'last') AS u_last, u(i, 'mail') AS u_mail,
            u(i, 'mail_domain') AS u_mail_domain, u(i, 'local') AS u_local, u(i, 'title') AS u_title,
            u(i, 'source') AS u_source, u(i, 'industry_text') AS u_industry_text,
            u(i, 'country_text') AS u_country_text, u(i, 'size_text') AS u_size_text,
            u(i, 'revenue_text') AS u_revenue_text
        FROM range({leads}) t(i)
    ), people AS (
        SELECT d.*, c.industry, c.country, c.employees, c.revenue, c.company_name,
            lower({_pick("u_first", FIRST_NAMES)}) AS first, lower({_pick("u_last", LAST_NAMES)}) AS last,
            CASE WHEN u_mail < 0.01 THEN 'competitor' WHEN u_mail < 0.13 THEN 'free_mail' ELSE 'corporate' END
                AS email_kind,
            CASE WHEN u_mail < 0.01 THEN {_pick("u_mail_domain", COMPETITOR_DOMAINS)}
                 WHEN u_mail < 0.13 THEN {_pick("u_mail_domain", FREE_MAIL_DOMAINS)}
                 ELSE c.domain END AS mail_domain,
            nullif({_weighted("u_title", [(t[0], t[1]) for t in JOB_TITLES])}, '') AS job_title,
            {_weighted("u_source", [(s[0], s[1]) for s in LEAD_SOURCES])} AS lead_source,
            {industry_fit} AS industry_fit, {country_fit} AS country_fit, {size_fit} AS size_fit
        FROM draws d JOIN companies c USING (company_no)
    ), scored AS (
        SELECT *, {seniority} AS seniority FROM people
    ), fitted AS (
        SELECT *, {seniority_fit} AS seniority_fit, {email_fit} AS email_fit, {source_fit} AS source_fit
        FROM scored
    )
    SELECT
        row_number() OVER (ORDER BY created_s, i) AS lead_no,  -- lead ids follow creation order
        *,
        {FIT_FORMULA} AS fit,
        {INTENT_FIT_WEIGHT} * ({FIT_FORMULA} - 1.5) + normal(i, 'intent') AS intent,
        exp(0.8 * normal(i, 'engagement')) AS engagement,
        u(i, 'dormant') < 0.05 AS dormant,
        ({end_s} - created_s) / {DAY} AS span_days
    FROM fitted
    """


def _activity_sql() -> str:
    """Per-lead activity plan: how many web sessions and email sends, email behaviour rates."""
    return f"""
    CREATE TABLE activity AS
    SELECT lead_no, i, created_s, intent, span_days, span_days * {DAY} AS span_s,
        -- sessions saturate with the lead's age; engagement gives the long tail; dormant leads do nothing
        CASE WHEN dormant THEN 0 ELSE least(300, floor(
            engagement * (2 + 12 * (1 - exp(-span_days / 120))) * (0.3 + 1.4 * u(i, 'sessions'))))::INTEGER
        END AS n_sessions,
        1 + floor(u(i, 'bursts') * 4)::INTEGER AS n_bursts,
        NOT dormant AND u(i, 'subscribed') < 0.85 AS subscribed,
        7 + floor(u(i, 'interval') * 21)::INTEGER AS send_interval_days,
        u(i, 'hard_bounce') < 0.02 AS hard_bounce,
        u(i, 'unsubscribes') < 0.06 AS unsubscribes,
        least(0.9, (0.06 + 0.45 * pow(u(i, 'open_rate'), 1.3)) * exp(0.2 * intent)) AS open_rate,
        0.08 + 0.3 * u(i, 'click_rate') AS click_rate
    FROM plan
    """


def _web_events_sql() -> str:
    """Web sessions -> pages -> (webinar attendance follow-up). Times in epoch seconds."""
    code = _event_code
    return f"""
    CREATE VIEW web_events AS
    WITH sessions AS (
        SELECT lead_no, i, created_s, intent, n_bursts, span_s, s FROM (
            SELECT *, unnest(range(n_sessions)) AS s FROM activity WHERE n_sessions > 0)
    ), timed_sessions AS (
        -- burst 0 = just after creation; bursts 1.. = centred somewhere in the lead's lifetime
        SELECT *, floor(u2(i, s, 'burst') * (n_bursts + 1))::INTEGER AS burst FROM sessions
    ), started AS (
        SELECT *,
            -- the session's day, then a daytime start on that day (never before the lead's creation)
            greatest(created_s, (created_s + CASE
                WHEN burst = 0 THEN floor(expo2(i, s, 'onboarding') * 4 * {DAY})
                ELSE floor(u2(i, burst, 'centre') * span_s + expo2(i, s, 'spread') * 3 * {DAY})
                END::BIGINT) // {DAY} * {DAY} + daytime(i, s, 'session')) AS session_s,
            1 + least(29, floor(expo2(i, s, 'pages') * 1.6))::INTEGER AS n_pages
        FROM timed_sessions
    ), pages AS (
        SELECT * FROM (SELECT *, unnest(range(n_pages)) AS k FROM started)
    ), typed AS (
        SELECT *,
            -- pages are ~2-4 minutes apart within a session
            session_s + k * 150 + floor(u2(i, s * 32 + k, 'jitter') * 120)::BIGINT AS page_s,
            u2(i, s * 32 + k, 'type') AS u_type,
            -- decisive actions happen in the lead's first later burst ("evaluation"), for hot leads
            least(0.2, 0.0006 * exp(1.5 * intent) * CASE WHEN burst = 1 THEN 4 ELSE 1 END) AS p_demo,
            least(0.3, 0.04 * exp(0.5 * intent) * CASE WHEN burst = 1 THEN 2 ELSE 1 END) AS p_pricing
        FROM pages
    ), web AS (
        SELECT *, CASE
            WHEN u_type < p_demo THEN {code("demo_request")}
            WHEN u_type < p_demo * 1.5 THEN {code("trial_start")}
            WHEN u_type < p_demo * 1.5 + p_pricing THEN {code("pricing_page_view")}
            WHEN u_type < p_demo * 1.5 + p_pricing + 0.03 THEN {code("content_download")}
            WHEN u_type < p_demo * 1.5 + p_pricing + 0.042 THEN {code("webinar_registration")}
            WHEN u_type < p_demo * 1.5 + p_pricing + 0.052 THEN {code("form_submit")}
            WHEN u_type < p_demo * 1.5 + p_pricing + 0.055 THEN {code("newsletter_signup")}
            ELSE {code("page_view")} END::UTINYINT AS page_type,
            floor(u2(i, s * 32 + k, 'detail') * 1000)::SMALLINT AS detail
        FROM typed
    ), with_followups AS (
        -- 45% of webinar registrations are followed by an attendance 2-14 days later (15:00 UTC)
        SELECT *, unnest(range(1 + (page_type = {code("webinar_registration")}
                                     AND u2(i, s * 32 + k, 'attends') < 0.45)::INTEGER)) AS sub
        FROM web
    )
    SELECT lead_no,
        CASE WHEN sub = 0 THEN page_s
             ELSE (page_s // {DAY} + 2 + floor(u2(i, s * 32 + k, 'webinar_day') * 13)::BIGINT) * {DAY} + 54000
        END AS es,
        CASE WHEN sub = 0 THEN page_type ELSE {code("webinar_attended")} END::UTINYINT AS etype,
        detail,
        (s * 64 + k * 2 + sub)::BIGINT AS local_key
    FROM with_followups
    """


def _email_events_sql() -> str:
    """Email programme: regular sends; opens, clicks, bounces and unsubscribes derived from each send."""
    code = _event_code
    return f"""
    CREATE VIEW email_events AS
    WITH programme AS (
        SELECT *, CASE
            WHEN hard_bounce THEN least(n_possible, 1)
            WHEN unsubscribes THEN least(n_possible, 1 + floor(u(i, 'unsubscribe_at') * n_possible)::INTEGER)
            ELSE n_possible END AS n_sends
        FROM (SELECT *, least(110, floor(span_days / send_interval_days))::INTEGER AS n_possible
              FROM activity WHERE subscribed)
    ), sends AS (
        SELECT * FROM (SELECT *, unnest(range(n_sends)) AS j FROM programme WHERE n_sends > 0)
    ), outcomes AS (
        SELECT *,
            -- campaigns go out in the morning (08:00-11:00 UTC) every send_interval_days after creation
            (created_s // {DAY} + (j + 1) * send_interval_days) * {DAY} + 28800
                + floor(u2(i, j, 'send_time') * 10800)::BIGINT AS send_s,
            CASE WHEN hard_bounce THEN 'hard_bounce'
                 WHEN unsubscribes AND j = n_sends - 1 THEN 'unsubscribe'
                 WHEN u2(i, j, 'outcome') < 0.01 THEN 'soft_bounce'
                 WHEN u2(i, j, 'outcome') < 0.01 + open_rate THEN
                      CASE WHEN u2(i, j, 'click') < click_rate THEN 'click' ELSE 'open' END
                 ELSE 'sent' END AS outcome,
            floor(u2(i, j, 'campaign') * 1000)::SMALLINT AS detail
        FROM sends
    ), rows AS (
        SELECT *, unnest(range(CASE outcome WHEN 'sent' THEN 1 WHEN 'open' THEN 2 WHEN 'click' THEN 3
                                            WHEN 'unsubscribe' THEN 3 ELSE 2 END)) AS sub
        FROM outcomes
    ), timed AS (
        SELECT *, send_s + floor(expo2(i, j, 'open_delay') * 6 * 3600)::BIGINT + 60 AS open_s FROM rows
    )
    SELECT lead_no,
        CASE WHEN sub = 0 THEN send_s
             WHEN outcome LIKE '%bounce' THEN send_s + 5 + floor(u2(i, j, 'bounce_delay') * 300)::BIGINT
             WHEN sub = 1 THEN open_s
             ELSE open_s + 20 + floor(u2(i, j, 'click_delay') * 600)::BIGINT END AS es,
        CASE WHEN sub = 0 THEN {code("email_sent")}
             WHEN outcome LIKE '%bounce' THEN {code("email_bounce")}
             WHEN sub = 1 THEN {code("email_open")}
             WHEN outcome = 'unsubscribe' THEN {code("unsubscribe")}
             ELSE {code("email_click")} END::UTINYINT AS etype,
        -- for bounces the detail's parity says hard (even) or soft (odd)
        CASE WHEN outcome = 'hard_bounce' THEN detail - detail % 2
             WHEN outcome = 'soft_bounce' THEN detail - detail % 2 + 1 ELSE detail END::SMALLINT AS detail,
        ((1::BIGINT << 32) + j * 4 + sub)::BIGINT AS local_key
    FROM timed
    """


def _events_sql(end_s: int) -> str:
    """All events up to end_date 23:59:59, sorted once by time; event_no = rowid + 1 follows that order."""
    return f"""
    CREATE TABLE events AS
    SELECT lead_no, es, etype, detail, local_key FROM (
        SELECT * FROM web_events UNION ALL SELECT * FROM email_events)
    WHERE es <= {end_s}
    ORDER BY es, lead_no, local_key
    """


def _conversion_sql(end_s: int) -> str:
    """Behaviour from realised events, the hidden propensity, conversion and the lifecycle stage."""
    code = _event_code
    counted = ", ".join(
        f"count(*) FILTER (WHERE etype = {code(t)}) AS n_{t}"
        for t in (
            "demo_request",
            "trial_start",
            "pricing_page_view",
            "webinar_attended",
            "content_download",
            "form_submit",
            "page_view",
            "email_click",
        )
    )
    decisive = f"etype IN ({code('demo_request')}, {code('trial_start')})"
    warm = f"etype IN ({code('pricing_page_view')}, {code('webinar_attended')}, {code('content_download')})"
    return f"""
    CREATE TABLE behaviour AS
    SELECT lead_no, {counted},
        max(es) FILTER (WHERE {decisive}) AS last_decisive_s,
        max(es) FILTER (WHERE {warm}) AS last_warm_s
    FROM events GROUP BY lead_no;

    CREATE TABLE conversions AS
    WITH joined AS (
        SELECT p.lead_no, p.i, p.created_s, p.fit, p.company_no,
            coalesce(n_demo_request, 0) AS n_demo_request, coalesce(n_trial_start, 0) AS n_trial_start,
            coalesce(n_pricing_page_view, 0) AS n_pricing_page_view,
            coalesce(n_webinar_attended, 0) AS n_webinar_attended,
            coalesce(n_content_download, 0) AS n_content_download,
            coalesce(n_form_submit, 0) AS n_form_submit, coalesce(n_page_view, 0) AS n_page_view,
            coalesce(n_email_click, 0) AS n_email_click, last_decisive_s, last_warm_s
        FROM plan p LEFT JOIN behaviour b USING (lead_no)
    ), scored AS (
        SELECT *,
            {BEHAVIOUR_FORMULA} AS behaviour,
            -- the hidden propensity: never written out
            sigmoid({FIT_WEIGHT} * fit + {BEHAVIOUR_WEIGHT} * ({BEHAVIOUR_FORMULA})
                    + {INTERCEPT} + {NOISE_SD} * normal(i, 'propensity_noise')) AS propensity,
            -- a few days after the last demo/trial; otherwise a few weeks after the last warm signal
            CASE WHEN last_decisive_s IS NOT NULL
                 THEN last_decisive_s + floor((1 + 9 * u(i, 'close_days')) * {DAY})
                 ELSE greatest(created_s, coalesce(last_warm_s, created_s))
                      + floor((5 + 40 * u(i, 'close_days')) * {DAY}) END::BIGINT AS close_s
        FROM joined
    ), decided AS (
        -- a lead converts with probability = propensity, if the deal could close before end_date
        SELECT *, u(i, 'converts') < propensity AND close_s + 2 * {DAY} <= {end_s} AS converted FROM scored
    )
    SELECT *,
        CASE WHEN converted THEN 'customer'
             WHEN n_demo_request + n_trial_start > 0 THEN 'opportunity'
             WHEN n_form_submit > 0 AND fit > 1.5 THEN 'sql'
             WHEN n_pricing_page_view + n_content_download + n_webinar_attended + n_form_submit > 0 THEN 'mql'
             WHEN n_page_view + n_email_click > 0 THEN 'lead'
             ELSE 'subscriber' END AS lifecycle_stage
    FROM decided
    """


def _orders_sql(end_s: int) -> str:
    """Orders: 1-6 per customer, the first within 2 days of conversion, then every 3-10 weeks."""
    currencies = _lookup("country", {c[0]: c[5] for c in COUNTRIES}, "'EUR'")
    other_currency = _pick("u2(i, o, 'currency_other')", ("USD", "GBP", "CHF"))
    return f"""
    CREATE TABLE orders AS
    WITH customers AS (
        SELECT c.lead_no, c.i, c.close_s, p.employees, p.country,
            1 + floor(pow(u(c.i, 'n_orders'), 2) * 6)::INTEGER AS n_orders
        FROM conversions c JOIN plan p USING (lead_no) WHERE c.converted
    ), lines AS (
        SELECT * FROM (SELECT *, unnest(range(n_orders)) AS o FROM customers)
    ), timed AS (
        SELECT *,
            close_s + 60 + floor(u2(i, o, 'first_order') * 2 * {DAY})::BIGINT
                + o * floor((21 + 49 * u2(i, o, 'gap')) * {DAY})::BIGINT AS os,
            -- log-normal amounts, bigger for bigger customers, clamped to 50..20000
            round(least(20000, greatest(50,
                exp(ln(600) + 0.2 * ln(employees / 50) + 1.0 * normal(i * 8 + o, 'amount')))), 2) AS amount,
            CASE WHEN u2(i, o, 'currency') < 0.05 THEN {other_currency} ELSE {currencies} END AS currency,
            CASE WHEN u2(i, o, 'refund') < 0.07 THEN 'refunded' ELSE 'completed' END AS status
        FROM lines
    )
    SELECT lead_no, os, o, amount, currency, status FROM timed
    WHERE os <= {end_s}
    ORDER BY os, lead_no, o
    """


def _ts_sql(seconds: str, u: str) -> str:
    """ISO 8601 text for epoch ``seconds``: ~90% `...Z`, ~5% with an offset, ~5% naive (meaning UTC)."""
    ts = f"make_timestamp(({seconds}) * 1000000)"
    offsets = " ".join(
        f"WHEN {u} < {0.05 * (n + 1) / len(TIMESTAMP_OFFSETS):.6f} THEN "
        f"strftime(make_timestamp((({seconds}) + {delta}) * 1000000), '%Y-%m-%dT%H:%M:%S') || "
        f"{sql_literal(label)}"
        for n, (label, delta) in enumerate(TIMESTAMP_OFFSETS)
    )
    return f"""CASE {offsets}
        WHEN {u} < 0.10 THEN strftime({ts}, '%Y-%m-%d %H:%M:%S')
        ELSE strftime({ts}, '%Y-%m-%dT%H:%M:%SZ') END"""


def _render_sql(widths: dict[str, int]) -> str:
    """Text views in contract column order (+ _pos, the row's position), one per output table."""
    lw, ew, ow = widths["leads"], widths["events"], widths["orders"]
    industry_variant = """CASE
        WHEN u(i, 'industry_text') < 0.02 THEN NULL
        WHEN u(i, 'industry_text') < 0.035 THEN capitalize(industry)
        WHEN u(i, 'industry_text') < 0.045 THEN ' ' || industry || ' '
        WHEN u(i, 'industry_text') < 0.05 THEN upper(industry)
        ELSE industry END"""
    local_part = """CASE
        WHEN email_kind <> 'corporate' AND u(i, 'local') < 0.4
            THEN first || '.' || last || (10 + floor(u(i, 'digits') * 90)::INTEGER)::VARCHAR
        WHEN u(i, 'local') < 0.8 THEN first || '.' || last
        WHEN u(i, 'local') < 0.9 THEN first[1] || last
        ELSE first || last END"""
    web_props = {
        "page_view": f"""'{{"url": "' || {_pick("detail / 1000", PAGES)} || '"}}'""",
        "pricing_page_view": """'{"url": "/pricing"}'""",
        "content_download": f"""'{{"url": "/resources/' || {_pick("detail / 1000", ASSETS)}
            || '", "asset": "' || {_pick("detail / 1000", ASSETS)} || '"}}'""",
        "webinar_registration": f"""'{{"webinar": "' || {_pick("detail / 1000", WEBINARS)} || '"}}'""",
        "webinar_attended": f"""'{{"webinar": "' || {_pick("detail / 1000", WEBINARS)} || '"}}'""",
        "newsletter_signup": """'{"url": "/newsletter", "form": "newsletter"}'""",
        "form_submit": """'{"url": "/contact", "form": "contact"}'""",
        "demo_request": """'{"url": "/demo", "form": "demo_request"}'""",
        "trial_start": """'{"url": "/signup", "plan": "'
            || CASE WHEN detail < 700 THEN 'pro' ELSE 'business' END || '"}'""",
    }
    campaign = f"""'{{"campaign": "' || {_pick("detail / 1000", CAMPAIGNS)} || '"'"""
    email_props = {
        "email_sent": f"{campaign} || '}}'",
        "email_open": f"{campaign} || '}}'",
        "email_click": f"""{campaign} || ', "url": "' || {_pick("(detail % 100) / 100", PAGES)} || '"}}'""",
        "unsubscribe": f"{campaign} || '}}'",
        "email_bounce": f"""{campaign} || ', "bounce_type": "'
            || CASE WHEN detail % 2 = 0 THEN 'hard' ELSE 'soft' END || '"}}'""",
    }
    props = "CASE etype " + " ".join(
        f"WHEN {_event_code(t)} THEN {sql}" for t, sql in {**web_props, **email_props}.items()
    )
    return f"""
    CREATE VIEW leads_out AS
    SELECT printf('L%0{lw}d', p.lead_no) AS lead_id,
        {local_part} || '@' || mail_domain AS email,
        company_name,
        {industry_variant} AS industry,
        CASE WHEN u(i, 'size_text') < 0.08 THEN NULL ELSE employees::VARCHAR END AS employee_count,
        CASE WHEN u(i, 'revenue_text') < 0.25 THEN NULL ELSE revenue::VARCHAR END AS annual_revenue,
        CASE WHEN u(i, 'country_text') < 0.03 THEN lower(country) ELSE country END AS country_code,
        job_title, lead_source,
        {_ts_sql("p.created_s", "u(i, 'created_fmt')")} AS created_at,
        c.lifecycle_stage,
        CASE WHEN c.converted THEN {_ts_sql("c.close_s", "u(i, 'converted_fmt')")} END AS converted_at,
        p.lead_no AS _pos
    FROM plan p JOIN conversions c USING (lead_no, i)
    ORDER BY p.lead_no;

    CREATE VIEW events_out AS
    SELECT printf('E%0{ew}d', rowid + 1) AS event_id,
        printf('L%0{lw}d', lead_no) AS lead_id,
        {_list(EVENT_TYPES)}[etype + 1] AS event_type,
        {_ts_sql("es", "u(rowid, 'occurred_fmt')")} AS occurred_at,
        {props} END AS properties,
        rowid + 1 AS _pos
    FROM events;

    CREATE VIEW orders_out AS
    SELECT printf('O%0{ow}d', rowid + 1) AS order_id,
        printf('L%0{lw}d', lead_no) AS lead_id,
        {_ts_sql("os", "u(rowid, 'ordered_fmt')")} AS ordered_at,
        printf('%.2f', amount) AS amount, currency, status,
        rowid + 1 AS _pos
    FROM orders;
    """


def _bad_rows_sql(
    table: str, columns: Sequence[str], n_clean: int, n_bad: int, width: int, end_s: int
) -> str:
    """Contract-breaking rows for ``table``: copies of random clean rows with one thing broken.

    Row j has kind ``BAD_ROW_KINDS[table][j % len(kinds)]``. A duplicate takes an existing row's id and the
    other values of a different row; other kinds get a fresh id after the clean ones.
    """
    kinds = BAD_ROW_KINDS[table]
    id_col, prefix = columns[0], {"leads": "L", "events": "E", "orders": "O"}[table]
    ts_col = {"leads": "created_at", "events": "occurred_at", "orders": "ordered_at"}[table]
    future = (
        f"strftime(make_timestamp(({end_s} + {FUTURE_DAYS} * {DAY})::BIGINT * 1000000), '%Y-%m-%dT%H:%M:%SZ')"
    )
    overrides: dict[str, str] = {
        id_col: f"""CASE WHEN kind = 'duplicate_id' THEN dup.{id_col}
            WHEN kind = 'missing_lead_id' AND {table == "leads"} THEN NULL
            ELSE printf('{prefix}%0{width}d', {n_clean} + j + 1) END""",
        ts_col: f"""CASE kind WHEN 'bad_timestamp' THEN {_list(BAD_TIMESTAMPS)}[1 + j // {len(kinds)} % 2]
            WHEN 'future_timestamp' THEN {future} ELSE b.{ts_col} END""",
    }
    if table != "leads":
        overrides["lead_id"] = f"""CASE kind WHEN 'missing_lead_id' THEN NULL
            WHEN 'unknown_lead' THEN {sql_literal(UNKNOWN_LEAD_ID)} ELSE b.lead_id END"""
    if table == "leads":
        overrides["employee_count"] = (
            f"CASE kind WHEN 'bad_employee_count' THEN {sql_literal(BAD_EMPLOYEE_COUNT)}"
            " ELSE b.employee_count END"
        )
    if table == "events":
        overrides["event_type"] = (
            f"CASE kind WHEN 'unknown_event_type' THEN {sql_literal(UNKNOWN_EVENT_TYPE)}"
            " ELSE b.event_type END"
        )
    if table == "orders":
        overrides["amount"] = f"""CASE kind WHEN 'negative_amount' THEN '-' || b.amount
            WHEN 'bad_amount' THEN {sql_literal(BAD_AMOUNT)} ELSE b.amount END"""
    select = ",\n        ".join(f"{overrides.get(col, f'b.{col}')} AS {col}" for col in columns)
    return f"""
    CREATE TABLE {table}_bad AS
    WITH picks AS (
        SELECT j, {_list(kinds)}[1 + j % {len(kinds)}] AS kind,
            1 + floor(u(j, '{table}_bad_base') * {n_clean})::BIGINT AS base_pos,
            1 + floor(u(j, '{table}_bad_dup') * {n_clean})::BIGINT AS dup_pos
        FROM range({n_bad}) t(j)
    )
    SELECT {select},
        {n_clean} + j + 1 AS _pos
    FROM picks
    JOIN {table}_out b ON b._pos = picks.base_pos
    JOIN {table}_out dup ON dup._pos = picks.dup_pos
    """


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def _end_of_day_epoch(day: date) -> int:
    """Epoch seconds of ``day`` 23:59:59 UTC."""
    return int(datetime.combine(day, time(23, 59, 59), tzinfo=UTC).timestamp())


def _bad_row_count(n_clean: int, kinds: int, fraction: float) -> int:
    """How many bad rows to add: the fraction of clean rows, but at least one of each kind."""
    if fraction <= 0 or n_clean == 0:
        return 0
    return max(kinds, round(n_clean * fraction))


def generate_demo_data(
    out_dir: Path,
    leads: int,
    seed: int,
    fmt: str = "parquet",
    end_date: date | None = None,
    bad_row_fraction: float = 0.0,
) -> dict[str, int]:
    """Write leads.<fmt>, events.<fmt>, orders.<fmt> into out_dir; return row counts per table.

    ``end_date`` None means today's UTC date; nothing happens after ``end_date`` 23:59:59 UTC. The same
    arguments always produce byte-identical files. ``bad_row_fraction`` (0 <= f < 1) appends that fraction
    of contract-breaking rows to each table (at least one of each kind in :data:`BAD_ROW_KINDS`).
    """
    _check_arguments(fmt, leads, bad_row_fraction)
    if end_date is None:
        end_date = datetime.now(UTC).date()
    end_s = _end_of_day_epoch(end_date)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The working tables live in a scratch DuckDB file beside the output, under a memory limit, so that DuckDB
    # spills to disk instead of holding everything in memory (which grows with the lead count and put 10 M
    # leads out of reach of the development machine: BENCHMARKS.md).
    scratch = out_dir / ".generating.duckdb"
    _remove_database(scratch)
    con = connect_writer(scratch)
    try:
        _configure_scratch(con, out_dir)
        steps = _generation_steps(int(seed), leads, end_s)
        for number, (what, sql) in enumerate(steps.items(), start=1):
            report(f"demo-data: {number} of {len(steps) + len(TABLES)} generating {what}")
            con.execute(sql)
        return _write_tables(con, out_dir, fmt, leads, bad_row_fraction, end_s, len(steps))
    finally:
        con.close()
        _remove_database(scratch)


def _check_arguments(fmt: str, leads: int, bad_row_fraction: float) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if leads < 1:
        raise ValueError(f"leads must be >= 1, got {leads}")
    if not 0 <= bad_row_fraction < 1:
        raise ValueError(f"bad_row_fraction must be in [0, 1), got {bad_row_fraction}")


def _configure_scratch(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    # Insertion order must be preserved: event and order ids are row positions of sorted tables.
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = {sql_literal(generator_memory_limit())}")
    con.execute(f"SET temp_directory = {sql_literal((out_dir / '.generating.tmp').as_posix())}")


def _generation_steps(seed: int, leads: int, end_s: int) -> dict[str, str]:
    """The statements that generate the clean tables, in order, by what each generates."""
    n_companies = max(1, math.ceil(leads * 0.6))
    return {
        "macros": _macros_sql(seed),
        f"{n_companies:,} companies": _companies_sql(n_companies),
        f"{leads:,} leads": _leads_plan_sql(leads, n_companies, end_s),
        "activity per lead": _activity_sql(),
        "web events": _web_events_sql(),
        "email events": _email_events_sql(),
        "events, sorted": _events_sql(end_s),
        "conversions": _conversion_sql(end_s),
        "orders": _orders_sql(end_s),
    }


def _write_tables(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    fmt: str,
    leads: int,
    bad_row_fraction: float,
    end_s: int,
    steps_done: int,
) -> dict[str, int]:
    """Render the generated tables in the raw contract's columns, append the bad rows asked for, and write one
    file per table; return the row counts."""
    clean = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "orders")}
    clean["leads"] = leads
    bad = {t: _bad_row_count(clean[t], len(BAD_ROW_KINDS[t]), bad_row_fraction) for t in TABLES}
    widths = {
        "leads": max(7, len(str(leads + bad["leads"]))),
        "events": max(9, len(str(clean["events"] + bad["events"]))),
        "orders": max(7, len(str(clean["orders"] + bad["orders"]))),
    }
    con.execute(_render_sql(widths))
    counts: dict[str, int] = {}
    for table in TABLES:
        columns = RAW_CONTRACT[table]
        col_list = ", ".join(columns)
        source = f"SELECT {col_list} FROM {table}_out"  # already in id order (insertion order)
        if bad[table]:
            con.execute(_bad_rows_sql(table, columns, clean[table], bad[table], widths[table], end_s))
            source = f"""SELECT {col_list} FROM (
                SELECT *, 0 AS _bad FROM {table}_out UNION ALL SELECT *, 1 AS _bad FROM {table}_bad)
                ORDER BY {columns[0]} NULLS LAST, _bad, _pos"""
        path = out_dir / f"{table}.{fmt}"
        number = steps_done + TABLES.index(table) + 1
        report(f"demo-data: {number} of {steps_done + len(TABLES)} writing {path.name}")
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
        con.execute(f"COPY ({source}) TO {sql_literal(path.as_posix())} ({options})")
        counts[table] = clean[table] + bad[table]
    return counts


def generator_memory_limit() -> str:
    """DuckDB's memory limit for generation: LEADSCORE_GENERATOR_MEMORY, else 6GB."""
    return os.environ.get("LEADSCORE_GENERATOR_MEMORY", "6GB")


def _remove_database(path: Path) -> None:
    """Remove a scratch DuckDB file with its write-ahead log and spill folder."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(".generating.tmp"), ignore_errors=True)


def generate_next_day_events(data_dir: Path, out_dir: Path) -> tuple[date, int]:
    """Write out_dir/events.<fmt>: one more day of events after the demo data in data_dir, for
    `leadscore load --append`. The last day's accepted-looking activity is replayed a day later, on the same
    leads, with new event ids (`E<yyyymmdd>-<n>`): a realistic day's volume and mix. Return the day and count.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    sources = [data_dir / f"events.{fmt}" for fmt in FORMATS if (data_dir / f"events.{fmt}").is_file()]
    if len(sources) != 1:
        raise ValueError(f"{data_dir}: expected exactly one events.csv or events.parquet")
    source = sources[0]
    fmt = source.suffix.lstrip(".")
    reader = (
        f"read_parquet({sql_literal(source.as_posix())})"
        if fmt == "parquet"
        else (f"read_csv({sql_literal(source.as_posix())}, header = true, all_varchar = true)")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    con = connect_scratch()
    try:
        report(f"demo-data: reading {source.name}")
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"""
            CREATE TEMP TABLE timed AS
            SELECT *, try_cast(occurred_at AS TIMESTAMPTZ) AS _at FROM {reader}
            WHERE event_id IS NOT NULL AND lead_id IS NOT NULL
            """
        )
        last_day = con.execute("SELECT max(cast(_at AS DATE)) FROM timed").fetchone()[0]
        if last_day is None:
            raise ValueError(f"{source}: no event with a readable occurred_at")
        next_day = last_day + timedelta(days=1)
        stamp = next_day.strftime("%Y%m%d")
        path = out_dir / f"events.{fmt}"
        report(f"demo-data: writing {path.name}, the events of {next_day.isoformat()}")
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
        con.execute(
            f"""
            COPY (
                SELECT
                    'E{stamp}-' || lpad(cast(row_number() OVER (ORDER BY _at, event_id) AS VARCHAR), 7, '0')
                        AS event_id,
                    lead_id,
                    event_type,
                    strftime(_at + INTERVAL 1 DAY, '%Y-%m-%dT%H:%M:%SZ') AS occurred_at,
                    properties
                FROM timed
                WHERE cast(_at AS DATE) = DATE '{last_day.isoformat()}'
                ORDER BY _at, event_id
            ) TO {sql_literal(path.as_posix())} ({options})
            """
        )
        count = con.execute(f"SELECT count(*) FROM {_reader_of(path, fmt)}").fetchone()[0]
        return next_day, count
    finally:
        con.close()


def _reader_of(path: Path, fmt: str) -> str:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    return f"{reader}({sql_literal(path.as_posix())})"
