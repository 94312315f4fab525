/* Make the sidebar buttons a reader can see do what they say.
 *
 * sphinx-book-theme 1.3 renders its own ☰ and "contents" buttons in the article header, and
 * pydata-sphinx-theme 0.17 renders a second pair in its navbar (hidden in this theme). Both themes'
 * scripts bind `document.querySelector(".primary-toggle")` (and ".secondary-toggle"): the first of
 * each pair, the hidden one. The visible buttons got no handler, so ☰ and "contents" did nothing
 * at any width (pydata/pydata-sphinx-theme#2451, executablebooks/sphinx-book-theme#988).
 *
 * Each visible toggle passes its click on to the button the themes did bind, so the themes' own
 * behaviour applies: below 992 px the sidebar opens as a dialog, above it ☰ collapses the sidebar.
 * If a theme release binds every toggle itself, a click would act twice (open then close): the
 * browser test (tests/browser/) catches that, and this file should then be deleted.
 */
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const bound = document.querySelector(selector);
    document.querySelectorAll(selector).forEach((button) => {
      if (button === bound) return;
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    });
  }
});
