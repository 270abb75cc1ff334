"""Logging in and out in Chromium against the real stack, and a wrong password."""

import re

from tests.browser.conftest import login


def test_a_person_logs_in_through_the_form_sees_the_overview_and_logs_out(live_stack, page, shoot):
    page.goto("/")
    assert re.search(r"/web/login/\?next=/$", page.url), page.url  # every page needs a login
    assert page.locator("input[name=username]").is_visible()
    assert page.locator("input[name=password]").get_attribute("type") == "password"
    shoot(page, "login")

    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", live_stack.people["alice"].password)
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    assert page.url == live_stack.url + "/"
    assert page.locator(".user-menu summary").inner_text().startswith("alice")
    assert "Alpha lab" in page.locator(".header-tools").inner_text()
    page.wait_for_function("() => document.getElementById('live-state').dataset.state === 'live'")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["sessionid"]["httpOnly"] is True
    assert cookies["sessionid"]["sameSite"] == "Lax"
    shoot(page, "logged-in")

    page.click(".user-menu summary")
    page.click(".user-menu button:has-text('Log out')")
    # Two navigations race: the logout's redirect, and the live view's own when the server closes
    # its socket as logged out (frontend/src/lib/live.js); a CI run caught the page between them.
    page.wait_for_url(re.compile(re.escape(live_stack.url) + r"/web/login/"))
    assert page.url.startswith(live_stack.url + "/web/login/")
    shoot(page, "logged-out")
    page.goto("/web/shares/")
    assert "/web/login/?next=/web/shares/" in page.url  # the session is gone, not just the page


def test_a_wrong_password_gets_the_form_again_with_an_error_and_no_session(live_stack, page, shoot):
    page.goto("/web/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "not bob's password")
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert page.url.startswith(live_stack.url + "/web/login/")
    error = page.locator("#login-error")
    assert error.is_visible()
    wrong_password = error.inner_text()
    assert wrong_password
    shoot(page, "wrong-password")
    assert "sessionid" not in {c["name"] for c in page.context.cookies()}

    # An unknown user gets the very same answer.
    page.fill("input[name=username]", "nobody-at-all")
    page.fill("input[name=password]", "whatever it is")
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert page.locator("#login-error").inner_text() == wrong_password
    page.goto("/")
    assert "/web/login/" in page.url

    # The right password still works from the same browser afterwards.
    login(page, live_stack.people["bob"])
    assert page.url == live_stack.url + "/"
