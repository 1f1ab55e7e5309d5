from tests.page_walk import browsing_as, build_site, visit


def test_probe(browser, live_server, make):
    site = build_site()
    for lang in ("es", "ar"):
        with browsing_as(browser, live_server.url, site, "learner", lang, width=360) as page:
            visit(page, "/check-in?code=123456789", lang)
            print(lang, "prefilled:", page.locator("input[name=code]").input_value())
            page.locator("form.check-in-form button[type=submit]").click()
            page.wait_for_load_state()
            print(page.inner_text("main"))
            print(page.evaluate("[...document.querySelectorAll('[aria-invalid],[aria-describedby]')].map(e => e.outerHTML)"))
            page.screenshot(path=f"/tmp/pages3/checkin_err_{lang}.png", full_page=True)
            visit(page, "/check-in", lang)
            page.locator("form.check-in-form button[type=submit]").click()
            page.wait_for_load_state()
            print(page.inner_text("main"))
