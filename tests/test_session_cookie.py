"""The browser's session cookie: signed, HttpOnly, SameSite=Lax, and the jobs it started are its own (the
Dash card callbacks see and cancel only those)."""

import threading


def test_the_page_gives_a_signed_http_only_cookie_once(client):
    from components.common import CLIENT_COOKIE

    first = client.get("/")
    cookie = first.headers.get("Set-Cookie", "")
    assert cookie.startswith(CLIENT_COOKIE + "=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    again = client.get("/")  # the test client sends the cookie back: no new one
    assert "Set-Cookie" not in again.headers
    assert "Set-Cookie" not in client.get("/api/v1/labels?q=cat").headers  # API callers are known otherwise


def _browser(app, cookie: str | None):
    from components.common import CLIENT_COOKIE

    headers = {"Cookie": f"{CLIENT_COOKIE}={cookie}"} if cookie else {}
    return app.server.test_request_context("/_dash-update-component", method="POST", headers=headers)


def test_a_card_sees_and_cancels_only_its_own_browsers_jobs(app):
    import components.method_cards as cards
    from components.common import SERVICE_KEY, _signer, client_id

    svc = app.server.extensions[SERVICE_KEY]
    release = threading.Event()

    def hold(job):
        while not release.wait(0.01):
            job.report(0.5)

    with app.server.test_request_context():
        alice, bob = _signer().dumps("alice"), _signer().dumps("bob")
    with _browser(app, alice):
        assert client_id() == "session:alice"
        job = svc.jobs.submit("held", hold, client=client_id())
    for stranger in (bob, alice[:-2] + "xx", None):  # another browser, a forged cookie, no cookie
        with _browser(app, stranger):
            assert cards.LONG_JOB.lookup(job.id) is None
            cards.LONG_JOB.cancel(1, job.id)
            gone = cards.poll_card(1, {}, {"method": "rise", "slot": "a"}, 0.5, job.id)
            assert "gone" in str(gone[1]) and gone[4] is True
    assert not job.cancelled
    with _browser(app, alice):
        assert cards.LONG_JOB.lookup(job.id) is job
        cards.LONG_JOB.cancel(1, job.id)
    assert job.wait(5) and job.status == "cancelled"
    release.set()
