"""The team pages in Chromium against the real stack: a tenant admin's API credential from creation
to revocation, tried against the real API with the header credentials; a viewer's read-only view."""

import requests


def api_statements(live_stack, username, secret):
    return requests.get(f"{live_stack.url}/api/statements", headers={"X-USERNAME": username, "X-PASSWORD": secret},
                        timeout=30)


def test_a_tenant_admin_creates_a_credential_sees_the_secret_once_uses_it_and_revokes_it(live_stack, log_in, shoot):
    page = log_in("alice", "/web/team/")
    assert page.url == live_stack.url + "/web/team/alpha/credentials/"  # the team link: alpha's credentials
    assert page.locator("h1").inner_text().startswith("Alpha lab")
    with page.expect_navigation():
        page.click(".team-tabs >> text=Members")
    rows = page.locator("#members-table tbody tr")
    assert rows.all_inner_texts() == ["alice (you)\t—\tadmin (the last admin)\t"]  # nothing to demote or remove
    assert rows.locator("form").count() == 0
    shoot(page, "admin-members")
    with page.expect_navigation():
        page.click(".team-tabs >> text=API credentials")

    page.fill("input[name=label]", "Browser CI")
    with page.expect_navigation():
        page.click("#create-credential button[type=submit]")
    username = page.locator("#new-secret-username").inner_text()
    secret = page.locator("#new-secret-value").inner_text()
    assert username.startswith("alpha-") and len(secret) >= 43, (username, secret)
    assert page.locator("#new-secret").get_by_text("shown this once").is_visible()
    shoot(page, "secret-shown-once")

    response = api_statements(live_stack, username, secret)
    assert response.status_code == 200, response.text

    # Back on the page: the credential is listed, used, and its secret is nowhere.
    page.goto("/web/team/alpha/credentials/")
    assert page.locator("#new-secret").count() == 0
    assert secret not in page.content()
    row = page.locator(f'#credentials-table tr[data-username="{username}"]')
    assert "Browser CI" in row.inner_text()
    assert "never" not in row.locator("td").nth(3).inner_text()  # last used: the API call above
    assert row.locator(".credential-status").inner_text().strip() == "active"

    page.once("dialog", lambda dialog: dialog.accept())  # the "Revoke …?" confirmation
    with page.expect_navigation():
        row.get_by_role("button", name="Revoke").click()
    assert f"Revoked {username}" in page.locator(".messages").inner_text()
    assert row.locator(".credential-status").inner_text().startswith("revoked")
    assert row.get_by_role("button", name="Revoke").count() == 0
    shoot(page, "revoked")

    response = api_statements(live_stack, username, secret)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Username and password is not recognized"}
    tenant_credential = live_stack.api_credentials["alpha"]
    assert api_statements(live_stack, *tenant_credential).status_code == 200  # the other one still works


def test_a_viewer_sees_the_members_read_only(live_stack, log_in, shoot):
    page = log_in("bob", "/web/team/")
    assert page.url == live_stack.url + "/web/team/beta/members/"
    assert page.locator("#members-table tbody tr").all_inner_texts() == ["bob (you)\t—\tviewer"]
    assert page.locator("#read-only-note").is_visible()
    assert page.locator("main form").count() == 0
    shoot(page, "viewer-members")
    assert page.goto("/web/team/alpha/members/").status == 404
