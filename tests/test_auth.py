import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import PASSWORD

# Pages anyone may open; everything else needs a login (pages) or a token (the API).
PUBLIC = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "logout",
}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def _concrete(route: str) -> str:
    # Fill route converters and regex groups with plausible values.
    import re

    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<slug:\w+>|<str:\w+>|<path:\w+>|<\w+>", "x", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + route


def all_routes():
    return sorted(set(_walk(get_resolver().url_patterns)))


@pytest.mark.django_db
def test_every_page_refuses_anonymous_visitors(client):
    checked = 0
    for route, name in all_routes():
        if name in PUBLIC or route.startswith("admin/") or route.startswith("static/"):
            continue
        url = _concrete(route)
        response = client.get(url)
        if route in ("api/v1/docs", "api/v1/openapi.json"):
            assert response.status_code == 302, url
        elif route.startswith("api/"):
            assert response.status_code in (401, 404, 405), f"{url} answered {response.status_code}"
            if response.status_code == 401:
                assert response["Content-Type"].startswith("application/json")
        else:
            assert response.status_code == 302, f"{url} answered {response.status_code}"
            assert response["Location"].startswith("/accounts/login/"), url
        checked += 1
    assert checked >= 10


@pytest.mark.django_db
def test_admin_refuses_anonymous_visitors(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_login_page_and_health_are_public(client):
    assert client.get("/accounts/login/").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert health.json()["queue"] == "ok"  # REDIS_URL is set in the suite


@pytest.mark.django_db
def test_health_reports_an_unreachable_queue(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL}}
    import django_rq.queues

    django_rq.queues.get_redis_connection.cache_clear() if hasattr(
        django_rq.queues.get_redis_connection, "cache_clear"
    ) else None
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "queue": "unavailable"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "heading"),
    [("lead", "Triage"), ("engineer", "My steps"), ("manager", "Hygiene at a glance")],
)
def test_each_role_lands_on_its_own_dashboard(client, request, who, heading):
    user = request.getfixturevalue(who)
    assert client.login(username=user.username, password=PASSWORD)
    response = client.get("/")
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in response.content.decode()


@pytest.mark.django_db
def test_wrong_password_is_refused(client, lead):
    response = client.post("/accounts/login/", {"username": "lena", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_password_guessing_locks_the_account_for_a_while_and_a_right_password_resets(
    client, lead, manager, settings
):
    from django.core.cache import cache

    from hygiene.login_throttle import LOGIN_FAILURES, LOGIN_WINDOW

    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")  # shared by processes
    lead.is_staff = True
    lead.save()

    def login(username, password=PASSWORD, url="/accounts/login/", address="127.0.0.1"):
        response = client.post(
            url, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address
        )
        signed_in = "_auth_user_id" in client.session
        client.logout()
        return response.status_code, signed_in

    # A few wrong passwords, then the right one: in, and the count starts again.
    for _ in range(LOGIN_FAILURES - 1):
        assert login(lead.username, "nope") == (200, False)
    assert login(lead.username) == (302, True)
    for _ in range(LOGIN_FAILURES):
        assert login(f" {lead.username.upper()}", "nope") == (200, False)
    # Locked from this address: even the right password is not checked, and the page says why.
    response = client.post("/accounts/login/", {"username": lead.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many wrong passwords for this account: try again within 15 minutes" in (
        response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    # ...nor through the admin's login. Another account is not held back.
    assert login(lead.username, url="/admin/login/") == (200, False)
    assert login(manager.username) == (302, True)
    # The counts expire with the window (Redis keys' TTL).
    redis = cache._cache.get_client()
    keys = list(redis.scan_iter(f"*{settings.CACHES['default']['KEY_PREFIX']}*login-failures*"))
    assert keys and all(0 < redis.ttl(k) <= LOGIN_WINDOW for k in keys)
    # A new password (a reset) unlocks the account.
    lead.set_password(PASSWORD + "-new")
    lead.save()
    assert login(lead.username, PASSWORD + "-new") == (302, True)


@pytest.mark.django_db
def test_one_address_guessing_does_not_lock_the_account_for_everyone(client, lead):
    from hygiene.login_throttle import LOGIN_FAILURES

    for _ in range(LOGIN_FAILURES + 3):
        client.post(
            "/accounts/login/",
            {"username": lead.username, "password": "nope"},
            REMOTE_ADDR="203.0.113.9",
        )
    refused = client.post(
        "/accounts/login/",
        {"username": lead.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert refused.status_code == 429
    elsewhere = client.post(
        "/accounts/login/",
        {"username": lead.username, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.7",
    )
    assert elsewhere.status_code == 302


@pytest.mark.django_db
def test_password_reset_sends_a_working_link(client, lead, mailoutbox):
    response = client.post("/accounts/password_reset/", {"email": lead.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    link = next(line for line in body.splitlines() if "/accounts/reset/" in line)
    path = link.split("testserver", 1)[1]
    response = client.get(path, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0]
    new = "An0ther-l0ng-passphrase"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert client.login(username="lena", password="An0ther-l0ng-passphrase")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "path", "allowed"),
    [
        ("manager", "/metrics/", True),
        ("engineer", "/metrics/", False),
        ("outsider", "/metrics/", False),
        ("lead", "/sources/", True),
        ("manager", "/sources/", True),
        ("engineer", "/sources/", False),
        ("outsider", "/incidents/", False),
    ],
)
def test_roles_limit_pages(client, request, who, path, allowed):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert (client.get(path).status_code == 200) is allowed


@pytest.mark.django_db
def test_a_user_without_a_role_sees_nothing_on_the_dashboard(client, outsider):
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "No role yet" in body and "overdue" not in body.lower()


@pytest.mark.django_db
def test_logins_go_on_when_the_cache_is_unreachable(client, lead, settings, caplog):
    # Redis down must not lock everyone out of the app (its pages don't need the queue).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    assert (
        client.post("/accounts/login/", {"username": lead.username, "password": "nope"}).status_code
        == 200
    )
    response = client.post("/accounts/login/", {"username": lead.username, "password": PASSWORD})
    assert response.status_code == 302
    assert "login throttle skipped: the cache is unreachable" in caplog.text


@pytest.mark.django_db
def test_an_htmx_request_after_the_session_expired_goes_to_the_login_page(client):
    """htmx would follow the redirect and swap the login page into the page: it is told to go
    there instead, and to come back to the page it was on (not to the POST-only URL)."""
    response = client.post(
        "/findings/bulk/",
        {"action": "assign"},
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver/findings/?severity=high&sort=oldest",
        },
    )
    assert response.status_code == 200 and response.content == b""
    assert (
        response["HX-Redirect"]
        == "/accounts/login/?next=%2Ffindings%2F%3Fseverity%3Dhigh%26sort%3Doldest"
    )
    # A page from elsewhere is not where the login sends the user back to.
    response = client.get(
        "/findings/",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/phish"},
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"
    # Without htmx: Django's redirect; a form's post comes back to its page, not to the URL it
    # posted to (which answers only a POST).
    response = client.get("/findings/?severity=high")
    assert response.status_code == 302 and "HX-Redirect" not in response
    posted = client.post(
        "/findings/bulk/",
        {"action": "assign"},
        headers={"Referer": "http://testserver/findings/7/"},
    )
    assert posted["Location"] == "/accounts/login/?next=%2Ffindings%2F7%2F"


@pytest.mark.django_db
def test_pages_that_answer_htmx_with_a_fragment_vary_on_it(client, lead):
    """Else the browser's cache gives the fragment back as the page (Back after a filter)."""
    client.force_login(lead)
    for path in ("/findings/", "/findings/secrets/", "/metrics/"):
        assert "HX-Request" in client.get(path)["Vary"], path


@pytest.mark.django_db
def test_a_stale_csrf_token_reloads_an_htmx_page(lead):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    response = client.post("/findings/bulk/", {"action": "assign"}, headers={"HX-Request": "true"})
    assert response.status_code == 403 and response["HX-Refresh"] == "true"
    reloaded = client.get("/findings/").content.decode()
    assert "Your session changed" in reloaded  # the reloaded page says why
    # A form posted without scripts goes back to its page, which says why.
    plain = client.post(
        "/findings/bulk/",
        {"action": "assign"},
        headers={"Referer": "http://testserver/findings/7/"},
    )
    assert plain.status_code == 302 and plain["Location"] == "/findings/7/"
    assert client.post("/findings/bulk/", {"action": "assign"}).status_code == 403


@pytest.mark.django_db
def test_a_user_changes_their_password_within_the_app(client, engineer):
    from django.contrib.auth.models import User

    engineer.set_password("old-password-1")
    engineer.save()
    client.force_login(engineer)
    page = client.get("/").content.decode()
    assert 'href="/accounts/password_change/"' in page
    form = client.get("/accounts/password_change/").content.decode()
    assert "Django administration" not in form and "Change your password" in form
    wrong = client.post(
        "/accounts/password_change/",
        {
            "old_password": "nope",
            "new_password1": "N3w-passw0rd!x",
            "new_password2": "N3w-passw0rd!x",
        },
    )
    assert wrong.status_code == 200 and "incorrectly" in wrong.content.decode()
    done = client.post(
        "/accounts/password_change/",
        {
            "old_password": "old-password-1",
            "new_password1": "N3w-passw0rd!x",
            "new_password2": "N3w-passw0rd!x",
        },
        follow=True,
    )
    assert "Password changed" in done.content.decode()
    assert User.objects.get(pk=engineer.pk).check_password("N3w-passw0rd!x")


def _login(client, username, password, *, remote="10.0.0.2", forwarded=None):
    """A login POST as the app sees it behind a proxy at ``remote``: (status, signed in)."""
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    response = client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=remote,
        headers=headers,
    )
    signed_in = "_auth_user_id" in client.session
    client.logout()
    return response.status_code, signed_in


@pytest.mark.django_db
def test_behind_a_proxy_one_client_guessing_does_not_lock_the_account_for_everyone(
    client, lead, settings
):
    """Behind the TLS-terminating proxy every client had the proxy's REMOTE_ADDR: ten wrong
    passwords from anyone locked the account for everyone, for 15 minutes, again and again."""
    from hygiene.login_throttle import LOGIN_FAILURES

    settings.LEAKLINE_TRUSTED_PROXIES = 1
    for n in range(LOGIN_FAILURES + 2):
        # The guesser writes an X-Forwarded-For of its own; the proxy appends the real address.
        spoofed = f"192.0.2.{n}, 203.0.113.9"
        assert _login(client, lead.username, "nope", forwarded=spoofed)[0] in (200, 429)
    assert _login(client, lead.username, PASSWORD, forwarded="203.0.113.9") == (429, False)
    assert _login(client, lead.username, PASSWORD, forwarded="198.51.100.7") == (302, True)


@pytest.mark.django_db
def test_without_trusted_proxies_x_forwarded_for_is_not_believed(client, lead, settings):
    """The default (LEAKLINE_TRUSTED_PROXIES 0): the header is the client's to write, so a
    guesser can't step past its limit by writing another one each time."""
    from hygiene.login_throttle import LOGIN_FAILURES

    assert getattr(settings, "LEAKLINE_TRUSTED_PROXIES", 0) == 0
    for n in range(LOGIN_FAILURES):
        _login(client, lead.username, "nope", remote="203.0.113.9", forwarded=f"192.0.2.{n}")
    assert (
        _login(client, lead.username, PASSWORD, remote="203.0.113.9", forwarded="192.0.2.77")[0]
        == 429
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (0, "198.51.100.7", "10.0.0.2"),
        (1, "198.51.100.7", "198.51.100.7"),
        (1, " 192.0.2.1 ,198.51.100.7 ", "198.51.100.7"),  # the left one is the client's word
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.5", "198.51.100.7"),
        (2, "198.51.100.7", "10.0.0.2"),  # fewer entries than proxies: not what they send
        (1, "", "10.0.0.2"),
        (1, "unknown", "10.0.0.2"),
        (1, "198.51.100.7:4711", "10.0.0.2"),
        (1, "198.51.100.7, <script>", "10.0.0.2"),
        (1, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # one client's IPv6 network
        (1, "::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_the_client_address_is_the_entry_the_outermost_trusted_proxy_added(
    rf, settings, proxies, forwarded, address
):
    from hygiene.login_throttle import client_address

    settings.LEAKLINE_TRUSTED_PROXIES = proxies
    request = rf.post("/accounts/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == address


@pytest.mark.django_db
def test_one_address_guessing_many_accounts_is_held_back_there_only(client, lead, monkeypatch):
    """One password tried on many usernames (password spraying) stayed under every per-account
    limit: an address's wrong passwords for any usernames are counted too."""
    from hygiene import login_throttle

    assert login_throttle.ADDRESS_FAILURES == 50
    monkeypatch.setattr(login_throttle, "ADDRESS_FAILURES", 8)  # as many, sooner
    assert _login(client, lead.username, PASSWORD, remote="203.0.113.9") == (302, True)
    for n in range(8):
        assert _login(client, f"user{n}", "Summer2026!", remote="203.0.113.9") == (200, False)
    response = client.post(
        "/accounts/login/",
        {"username": lead.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 429
    assert "Too many wrong passwords from your network: try again within 15 minutes" in (
        response.content.decode()
    )
    assert _login(client, lead.username, PASSWORD, remote="198.51.100.7") == (302, True)


@pytest.mark.django_db
def test_guessers_with_many_addresses_do_not_lock_out_a_browser_that_signed_in_before(
    client, lead, monkeypatch, settings
):
    """The account's limit from anywhere is a lock anyone with enough addresses can set, again
    and again: a browser the user signed in with before is not held to it."""
    from django.test import Client

    from hygiene import login_throttle

    monkeypatch.setattr(login_throttle, "ACCOUNT_FAILURES", 6)  # as many addresses, sooner

    def as_known(password, remote):
        """A login from the browser that keeps its cookies (the test client's logout drops
        them all): signed out again by dropping the session cookie only."""
        response = known.post(
            "/accounts/login/",
            {"username": lead.username, "password": password},
            REMOTE_ADDR=remote,
        )
        signed_in = "_auth_user_id" in known.session
        known.cookies.pop(settings.SESSION_COOKIE_NAME, None)
        return response.status_code, signed_in

    known = Client()
    assert as_known(PASSWORD, "198.51.100.7") == (302, True)
    cookie = known.cookies[login_throttle.DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["max-age"] == login_throttle.DEVICE_AGE
    for n in range(6):
        _login(client, lead.username, "nope", remote=f"203.0.113.{n}")
    # Locked for a new browser, wherever it is, and for a cookie of another user...
    assert _login(client, lead.username, PASSWORD, remote="192.0.2.1") == (429, False)
    stranger = Client()
    stranger.cookies[login_throttle.DEVICE_COOKIE] = login_throttle.device_cookie("someone")
    assert _login(stranger, lead.username, PASSWORD, remote="192.0.2.1") == (429, False)
    forged = Client()
    forged.cookies[login_throttle.DEVICE_COOKIE] = cookie.value[:-2] + "xx"
    assert _login(forged, lead.username, PASSWORD, remote="192.0.2.1") == (429, False)
    # ...not for the browser that signed in before, from wherever it is now.
    assert as_known(PASSWORD, "192.0.2.2") == (302, True)
    # A device cookie that guesses is held like any browser: wrong passwords count against it.
    for n in range(6):
        _login(client, lead.username, "nope", remote=f"203.0.113.{n + 10}")
    for n in range(login_throttle.LOGIN_FAILURES):
        as_known("nope", f"192.0.2.{n + 20}")
    assert as_known(PASSWORD, "192.0.2.99") == (429, False)


@pytest.mark.django_db
def test_behind_a_proxy_not_configured_one_guesser_holds_back_no_one_else(
    client, lead, engineer, settings, monkeypatch
):
    """Production assumes a TLS proxy: without LEAKLINE_TRUSTED_PROXIES every login comes from
    its address, and a limit per address would hold back every account's logins (for good,
    with a guess a few seconds). It counts only where the address is the client's."""
    from hygiene import login_throttle

    monkeypatch.setattr(login_throttle, "ADDRESS_FAILURES", 8)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.LEAKLINE_TRUSTED_PROXIES = 0
    for n in range(8):
        assert _login(client, f"user{n}", "Summer2026!") == (200, False)
    assert _login(client, lead.username, PASSWORD) == (302, True)
    assert _login(client, engineer.username, PASSWORD) == (302, True)


@pytest.mark.django_db
def test_a_browser_that_signed_in_before_passes_its_networks_limit(
    client, lead, settings, monkeypatch
):
    """An office behind one address: a guesser there holds back new browsers, not one that
    signed in as the user before."""
    from django.test import Client

    from hygiene import login_throttle

    monkeypatch.setattr(login_throttle, "ADDRESS_FAILURES", 8)
    known = Client()
    known.post(
        "/accounts/login/",
        {"username": lead.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    known.cookies.pop(settings.SESSION_COOKIE_NAME, None)
    for n in range(8):
        assert _login(client, f"user{n}", "Summer2026!", remote="203.0.113.9") == (200, False)
    assert _login(client, lead.username, PASSWORD, remote="203.0.113.9") == (429, False)
    response = known.post(
        "/accounts/login/",
        {"username": lead.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302 and "_auth_user_id" in known.session
