"""Free-text search over findings' repo, path, rule and resource on PostgreSQL, without
indexing every finding.

Trigram GIN indexes on the findings themselves cost every import about 80 index entries per
finding (1.6 s per 100,000) and every bulk triage UPDATE as much again. Yet those columns
repeat heavily: a report names few repositories and rules, and the same files across many
commits. So the distinct values live in ``hygiene_searchterm`` (trigram-indexed, small), and a
search is: which distinct values contain the text → which findings have one of them
(``repo = ANY(…) OR path = ANY(…) OR rule = ANY(…) OR resource = ANY(…)``, through plain
indexes; an auditor's resource — an ARN, a bucket, a storage account — is its path). That is
exactly ``icontains`` on each column, as long as every value a finding holds is a term.

A row trigger keeps it so for every write path (the ORM, COPY): it adds each new finding's
values. An import's reconcile adds the distinct values of its staged rows itself, in one
statement, and says so for its INSERT alone (``SKIP_SETTING``, transaction-local): the trigger's
WHEN skips each row at once. (A statement-level trigger did it in one statement too, but it
copied every inserted row into a transition table first: 0.4 s of a 100,000-finding import.)
repo, path, rule and resource never change once a finding exists (they are where it was found);
terms are never deleted (a stale term matches no finding). SQLite (``make run``) searches with
plain ``icontains``.

``FORWARD`` is the migration's SQL; ``apply()`` creates the same on a database built without
migrations (the benchmarks)."""

from django.db.models import BooleanField, Expression, F, Q
from django.db.models.expressions import RawSQL

# Set (transaction-local) by a reconcile around its INSERT of findings whose terms it added.
SKIP_SETTING = "leakline.searchterms_added"
TRIGGER = [
    "DROP TRIGGER IF EXISTS finding_searchterms ON hygiene_finding",
    """
    CREATE OR REPLACE FUNCTION hygiene_searchterm_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO hygiene_searchterm (value)
        SELECT DISTINCT t.value
        FROM unnest(ARRAY[NEW.repo, NEW.path, NEW.rule, NEW.resource]::text[]) AS t(value)
        WHERE t.value <> ''
          AND NOT EXISTS (SELECT 1 FROM hygiene_searchterm s WHERE s.value = t.value);
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER finding_searchterms AFTER INSERT ON hygiene_finding FOR EACH ROW "
    f"WHEN (current_setting('{SKIP_SETTING}', true) IS DISTINCT FROM 'on') "
    "EXECUTE FUNCTION hygiene_searchterm_add()",
]


def add_terms_sql(rows: str) -> str:
    """The statement that adds the distinct values of ``rows`` (SQL of rows with repo, path,
    rule and resource) that aren't terms yet: one pass over the rows, whatever their number."""
    return f"""
        INSERT INTO hygiene_searchterm (value)
        SELECT t.value FROM (
            SELECT DISTINCT unnest(ARRAY[repo, path, rule, resource]::text[]) FROM ({rows}) r
        ) AS t(value)
        WHERE t.value <> ''
          AND NOT EXISTS (SELECT 1 FROM hygiene_searchterm s WHERE s.value = t.value)
        """


FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE IF NOT EXISTS hygiene_searchterm (value text NOT NULL)",
    # Equality probes (the trigger's "already there?") on values of any length.
    "CREATE INDEX IF NOT EXISTS searchterm_value ON hygiene_searchterm USING hash (value)",
    "CREATE INDEX IF NOT EXISTS searchterm_utrgm ON hygiene_searchterm "
    "USING gin ((UPPER(value)) gin_trgm_ops)",
    # repo = ANY(…) uses finding_repo_seen; path (up to 1,000 characters, too long for a btree
    # entry in the worst case) and rule get their own.
    "CREATE INDEX IF NOT EXISTS finding_path_hash ON hygiene_finding USING hash (path)",
    "CREATE INDEX IF NOT EXISTS finding_rule ON hygiene_finding (rule)",
    # Only posture findings have a resource: secret findings (most of an import) skip it.
    "CREATE INDEX IF NOT EXISTS finding_resource_hash ON hygiene_finding USING hash (resource) "
    "WHERE resource <> ''",
    *TRIGGER,
    # Findings that existed before the table did.
    add_terms_sql("SELECT repo, path, rule, resource FROM hygiene_finding"),
]

REVERSE = [
    "DROP TRIGGER IF EXISTS finding_searchterms ON hygiene_finding",
    "DROP FUNCTION IF EXISTS hygiene_searchterm_add()",
    "DROP INDEX IF EXISTS finding_rule",
    "DROP INDEX IF EXISTS finding_resource_hash",
    "DROP INDEX IF EXISTS finding_path_hash",
    "DROP TABLE IF EXISTS hygiene_searchterm",
]

COLUMNS = ("repo", "path", "rule", "resource")
PARTIAL = {"resource"}  # its index: WHERE resource <> ''


def apply(connection) -> None:
    """Create the table, indexes and trigger on ``connection`` if it is PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in FORWARD:
            cursor.execute(statement)


# Up to this many matching values are passed to the query as constants, so the planner can
# weigh them with the columns' statistics (a rare repository → its index; no values → nothing;
# a constant array is hashed once, not searched value by value). Past it the text is common: an
# ordered scan finds a page of matches quickly, as long as testing a row costs little. So each
# column is tested with ``IN (subquery)``, a hashed SubPlan: the matching terms are hashed once
# and each row costs a hash probe per column. (``= ANY(ARRAY(subquery))`` compared each row with
# every matching term in turn: 11,111 of them, 2.7 s for a page of 64,000 findings.)
INLINE_TERMS = 5000
_MATCHING = "SELECT value FROM hygiene_searchterm WHERE UPPER(value) LIKE UPPER(%s)"


class _AnyOf(Expression):
    """``column = ANY(values)`` where values is a list (a constant array), or else
    ``column IN (the matching terms)``: a hashed SubPlan, the terms read and hashed once (while
    the planner expects them to fit in hash_mem, work_mem x hash_mem_multiplier: ~150,000 terms
    of 25 characters at the defaults; past it PostgreSQL compares each row with every term)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column, values: list[str] | None = None, pattern: str = ""):
        super().__init__()
        self.column = column
        self.values = values
        self.pattern = pattern
        # A column indexed only where it isn't empty (resource) says so in the query, or the
        # planner can't prove the partial index applies (past 100 values, or to a subquery).
        self.nonempty = column.name in PARTIAL

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        params = tuple(params)
        if self.nonempty:
            sql, params = f"{sql} <> '' AND {sql}", params * 2
        if self.values is not None:
            return f"({sql} = ANY(%s))", (*params, self.values)
        return f"({sql} IN ({_MATCHING}))", (*params, self.pattern)


def search_q(text: str, connection) -> Q:
    """Findings whose repo, path, rule or resource contains ``text`` (case-insensitive)."""
    if connection.vendor != "postgresql":
        q = Q()
        for column in COLUMNS:
            q |= Q(**{f"{column}__icontains": text})
        return q
    pattern = f"%{connection.ops.prep_for_like_query(text)}%"
    with connection.cursor() as cursor:
        cursor.execute(f"{_MATCHING} LIMIT {INLINE_TERMS + 1}", [pattern])
        values = [row[0] for row in cursor.fetchall()]
    if not values:
        return Q(pk__in=[])
    if len(values) > INLINE_TERMS:
        values = None
    q = Q()
    for column in COLUMNS:
        q |= Q(_AnyOf(F(column), values, pattern))
    return q


def repo_q(text: str, connection) -> Q:
    """Findings of a repository: as stored (``https://github.com/acme/api``), or named by its
    path (``acme/api``, ``api``): the known repositories whose URL ends with it (any case,
    without a trailing ``.git`` or ``/``). An index lookup of each."""
    text = text.strip()
    base = text.removesuffix("/").removesuffix(".git")
    if "://" in text or text.startswith("git@"):
        return Q(repo__in={text, base, f"{base}.git", f"{base}/"})
    if not base:
        return Q(repo=text)
    text = base
    if connection.vendor != "postgresql":
        q = Q(repo__iexact=text)
        for end in ("", ".git", "/"):
            q |= Q(repo__iendswith=f"/{text}{end}")
        return q
    like = connection.ops.prep_for_like_query(text)
    matching = (
        "SELECT value FROM hygiene_searchterm WHERE UPPER(value) = UPPER(%s)"
        " OR UPPER(value) LIKE UPPER(%s) OR UPPER(value) LIKE UPPER(%s)"
        " OR UPPER(value) LIKE UPPER(%s)"
    )
    params = [text, f"%/{like}", f"%/{like}.git", f"%/{like}/"]
    with connection.cursor() as cursor:
        cursor.execute(f"{matching} LIMIT {INLINE_TERMS + 1}", params)
        values = [row[0] for row in cursor.fetchall()]
    # The terms mix repositories with paths, rules and resources: the repo column decides.
    if len(values) > INLINE_TERMS:  # common: every match, as a subquery
        return Q(repo__in=RawSQL(matching, params))  # noqa: S611 - constant SQL, bound values
    return Q(repo__in=values) if values else Q(pk__in=[])
